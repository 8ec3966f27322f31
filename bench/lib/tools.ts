import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { runCmd } from './proc.js';

/** Programs the benchmarks run, and the Debian package of each. */
const NEEDED: Array<{ program: string; pkg: string }> = [
  { program: 'sysbench', pkg: 'sysbench' },
  { program: 'socat', pkg: 'socat' },
  { program: 'tar', pkg: 'tar' },
  { program: 'mariadb-dump', pkg: 'mariadb-client' },
  { program: 'mariadb', pkg: 'mariadb-client' },
  { program: 'mariadbd', pkg: 'mariadb-server' },
  { program: 'mariadb-backup', pkg: 'mariadb-backup' },
];

const SEARCH = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];

export function findProgram(program: string): string | null {
  for (const dir of SEARCH) {
    if (!dir) continue;
    const path = join(dir, program);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // keep looking
    }
  }
  return null;
}

/**
 * Installs the missing programs from Debian's packages when run as root (apt-get update first
 * only when a package is not found); otherwise prints the command and fails.
 */
export async function ensureTools(log: (s: string) => void): Promise<void> {
  const missing = NEEDED.filter((n) => findProgram(n.program) === null);
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  const command = `apt-get install -y ${pkgs.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing ${missing.map((m) => m.program).join(', ')}; install them as root with:\n  sudo sh -c 'apt-get update && ${command}'`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log(`installing ${pkgs.join(', ')} (missing: ${missing.map((m) => m.program).join(', ')})`);
  try {
    await runCmd('apt-get', ['install', '-y', ...pkgs], { env });
  } catch {
    log('not found in the package lists: apt-get update, then again');
    await runCmd('apt-get', ['update'], { env });
    await runCmd('apt-get', ['install', '-y', ...pkgs], { env });
  }
  const still = NEEDED.filter((n) => findProgram(n.program) === null);
  if (still.length > 0) throw new Error(`still missing after ${command}: ${still.map((s) => s.program).join(', ')}`);
}
