#!/usr/bin/env node
// Makes sure this machine has what ConPaaS MySQL runs on: MariaDB 10.11's server, client and
// backup tools from Debian's packages, HAProxy (the router's load balancer), and iproute2 and
// iptables (the static cloud's tests make hosts of network namespaces and cut links between them), and
// Prometheus (its tests scrape the manager; promtool checks the alert rules in deploy/), and
// Chromium (the web console's tests drive it with playwright-core), and zstd (backups are
// compressed with it). Installs them with apt-get when run as root; otherwise
// prints the exact command and stops. As root it also creates the system user `cps-mysql`
// that mariadbd and MariaDB's tools run as. The system-wide MariaDB service is never used.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const PACKAGES = ['mariadb-server', 'mariadb-client', 'mariadb-backup', 'haproxy', 'iproute2', 'iptables', 'prometheus', 'chromium', 'zstd', 'socat'];
const PROGRAMS = ['mariadbd', 'mariadb-install-db', 'mariadb', 'mariadb-dump', 'mariadb-backup', 'mbstream', 'haproxy', 'ip', 'iptables', 'prometheus', 'promtool', 'chromium', 'zstd', 'socat'];
const SEARCH = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];

function found(program) {
  for (const dir of SEARCH) {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`cps-mysql needs Node.js 20.19 or newer; this is ${process.versions.node}`);
  process.exit(1);
}

/** The OS user mariadbd and MariaDB's tools run as when the agent runs as root (src/util/os-user.ts). */
const DB_OS_USER = 'cps-mysql';

function userExists(name) {
  try {
    execFileSync('getent', ['passwd', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** As root, creates the unprivileged system user MariaDB's programs run as; nothing to do otherwise. */
function ensureDbUser() {
  if (process.getuid?.() !== 0 || userExists(DB_OS_USER)) return;
  console.error(`creating the system user ${DB_OS_USER}, which runs mariadbd, mariadb-dump and mariadb-backup`);
  execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', DB_OS_USER], { stdio: 'inherit' });
}

const missing = PROGRAMS.filter((p) => !found(p));
if (missing.length === 0) {
  ensureDbUser();
  process.exit(0);
}

const command = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${PACKAGES.join(' ')}`;
if (process.getuid?.() !== 0) {
  console.error(`missing: ${missing.join(', ')}. Install MariaDB as root with:\n  sudo sh -c '${command}'`);
  process.exit(1);
}
console.error(`installing ${PACKAGES.join(', ')} (missing: ${missing.join(', ')})`);
execFileSync('sh', ['-c', command], { stdio: ['ignore', 'inherit', 'inherit'] });
const still = PROGRAMS.filter((p) => !found(p));
if (still.length > 0) {
  console.error(`still missing after the install: ${still.join(', ')}`);
  process.exit(1);
}
ensureDbUser();
