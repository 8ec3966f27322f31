import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagerProcess } from '../helpers/manager-process.js';
import { eventually } from '../helpers/sql.js';
import { freePort } from '../helpers/ports.js';

const CLI = resolve('dist/cli/main.js');

describe('the cps-mysql command line, driven as a user would', () => {
  let m: ManagerProcess;
  const run = (args: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [CLI, ...args], {
      encoding: 'utf8',
      env: { ...process.env, CPS_MYSQL_MANAGER: m.client.url, CPS_MYSQL_TOKEN: m.token, ...env },
      timeout: 180_000,
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };

  beforeAll(async () => {
    m = await ManagerProcess.start();
  });
  afterAll(async () => {
    await m.cleanup();
  });

  it('the manager runs as the cps-mysql command starts it: through the #! line, with its node flags', () => {
    const pid = m.child?.pid;
    expect(pid).toBeGreaterThan(0);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline).toContain('--max-semi-space-size=2');
    expect(cmdline).toContain(CLI);
  });

  it('startup waits, shows each step, and ends with how to connect', () => {
    const r = run(['startup', '--slaves', '1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('PROLOGUE…');
    expect(r.stdout).toMatch(/startup: starting node-2 as new servers replicating node-1 from its first transaction/);
    expect(r.stdout).toMatch(/state: +RUNNING/);
    expect(r.stdout).toMatch(/master url: +mysql:\/\/127\.0\.0\.1:[0-9]+/);
    expect(r.stdout).toMatch(/slave url: +mysql:\/\/127\.0\.0\.1:[0-9]+/);
  });

  it('prints a connection command that works: a write through it is visible on a replica', async () => {
    const info = run(['info']);
    expect(info.code).toBe(0);
    const cmd = /connect: +(mariadb -h \S+ -P [0-9]+ -u \S+ -p)$/m.exec(info.stdout)?.[1];
    expect(cmd).toBeDefined();
    const password = run(['get-password']).stdout.trim();
    expect(password.length).toBeGreaterThan(10);
    // The printed command asks for the password (-p); the test gives it through the client's environment.
    const args = cmd!.split(' ').slice(1).filter((a) => a !== '-p');
    const mariadb = (sql: string, hostPort?: string[]): string => {
      const a = hostPort ? ['-h', hostPort[0]!, '-P', hostPort[1]!, ...args.slice(4)] : args;
      const r = spawnSync('mariadb', [...a, '--batch', '--skip-column-names', '-e', sql], { encoding: 'utf8', env: { ...process.env, MYSQL_PWD: password } });
      if (r.status !== 0) throw new Error(r.stderr);
      return r.stdout.trim();
    };
    mariadb("CREATE DATABASE cli; CREATE TABLE cli.t (v VARCHAR(20)); INSERT INTO cli.t VALUES ('from-the-cli')");
    const json = JSON.parse(run(['info', '--json']).stdout) as { slaves: string[] };
    const replica = json.slaves[0]!.split(':');
    const seen = await eventually(async () => {
      try {
        return mariadb('SELECT v FROM cli.t', replica);
      } catch {
        return '';
      }
    }, (v) => v === 'from-the-cli');
    expect(seen).toBe('from-the-cli');
  });

  it('add-nodes shows progress: which node is created and provisioned', () => {
    const r = run(['add-nodes', '1']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.some((l) => /add_nodes: creating node-3$/.test(l))).toBe(true);
    expect(lines.some((l) => /add_nodes: provisioning node-3 from a snapshot of (node-1|node-2 \(a caught-up replica: the master's writes untouched\), attached to node-1)$/.test(l))).toBe(true);
    expect(lines.some((l) => /add_nodes complete/.test(l))).toBe(true);
  });

  it('--json outputs parse and carry the fields', () => {
    const info = JSON.parse(run(['info', '--json']).stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ state: 'RUNNING', type: 'mysql', user: 'mysqldb' });
    const nodes = JSON.parse(run(['list-nodes', '--json']).stdout) as Record<string, unknown>;
    expect(nodes).toEqual({ masters: ['node-1'], slaves: ['node-2', 'node-3'], serviceNode: ['node-1', 'node-2', 'node-3'] });
    const node = JSON.parse(run(['node-info', 'node-2', '--json']).stdout) as { serviceNode: Record<string, unknown> };
    expect(node.serviceNode).toMatchObject({ id: 'node-2', isSlave: true, isMaster: false, isRunningMySQL: true });
    const perf = JSON.parse(run(['performance', '--json']).stdout) as Record<string, unknown>;
    for (const k of ['request_rate', 'error_rate', 'throughput', 'response_time', 'nodes']) expect(perf).toHaveProperty(k);
    const table = run(['list-nodes']).stdout;
    expect(table.split('\n')[0]).toMatch(/^ID +ROLE +STATUS +MYSQL +ADDRESS +LAG +GTID$/);
  });

  it('usage errors exit 2 and say what is wrong', () => {
    for (const args of [['add-nodes', '0'], ['add-nodes'], ['no-such-verb'], ['node-info'], ['startup', '--slaves', 'x']]) {
      const r = run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/error/);
    }
    const help = run(['add-nodes', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Example:');
  });

  it('a refused operation exits 1 with the manager reason', () => {
    const r = run(['remove-nodes', '--node', 'node-1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('node-1 is the master and cannot be removed');
    const s = run(['switchover', 'node-9']);
    expect(s.code).toBe(1);
    expect(s.stderr).toContain('no node node-9');
  });

  it('an unreachable manager exits 1 and says where it looked', async () => {
    const port = await freePort();
    const r = run(['info'], { CPS_MYSQL_MANAGER: `http://127.0.0.1:${port}/` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach the manager at http://127.0.0.1:${port}/`);
  });

  it('never takes a secret on its command line, where ps shows it', () => {
    const t = run(['info', '--token', m.token], { CPS_MYSQL_TOKEN: '' });
    expect(t.code).toBe(2);
    expect(t.stderr).toContain('--token would show the API token in the process list: use --token-file');
    expect(t.stderr).not.toContain(m.token);
    const p = run(['set-password', 'visible-in-ps']);
    expect(p.code).toBe(1);
    expect(p.stderr).toContain('a password on the command line is visible in the process list');
  });

  it('reads the API token from a file or from standard input', () => {
    const file = join(m.dataDir, 'api-token');
    const fromFile = run(['--token-file', file, 'info', '--json'], { CPS_MYSQL_TOKEN: '' });
    expect(fromFile.code).toBe(0);
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ type: 'mysql' });
    const r = spawnSync(process.execPath, [CLI, '--token-file', '-', 'info', '--json'], {
      encoding: 'utf8',
      input: `${m.token}\n`,
      env: { ...process.env, CPS_MYSQL_MANAGER: m.client.url, CPS_MYSQL_TOKEN: '' },
    });
    expect(r.status).toBe(0);
    const wrong = run(['--token-file', join(m.dataDir, 'no-such-file'), 'info'], { CPS_MYSQL_TOKEN: '' });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--token-file: cannot read');
  });

  it('switchover and shutdown wait for the end', () => {
    const s = run(['switchover', 'node-2']);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain('switchover complete: node-2 is the master');
    const d = run(['shutdown']);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/state: +STOPPED/);
  });
});
