import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentProcess } from '../helpers/agent-process.js';
import { APP_PASSWORD, APP_USER, connectApp, eventually, scalar } from '../helpers/sql.js';
import { templateKey } from '../../src/engine/mariadb/datadir-template.js';
import { hostTemplate } from '../../src/engine/mariadb/host-template.js';
import { ramScratchRoot } from '../../src/engine/mariadb/ram-scratch.js';
import { warmUpHostTemplate } from '../../src/app/template-warm-up.js';
import { createLogger } from '../../src/util/logger.js';
import { databaseOsUser } from '../../src/util/os-user.js';

const REPL = { user: 'repl', password: `repl-${Date.now()}` };

/** How each agent's init_server made its data directory, from its 'server running' log line. */
function datadirOf(a: AgentProcess): string | null {
  for (const line of a.logs.split('\n')) {
    if (!line.includes('"server running"')) continue;
    return (JSON.parse(line) as { datadir?: string }).datadir ?? null;
  }
  return null;
}

/**
 * The host's data-directory template (issue #17): one `mariadb-install-db` per host, copied for
 * every new server — real agents, real mariadbd.
 */
describe('new servers copy the host data-directory template (real mariadbd)', () => {
  const agents: AgentProcess[] = [];
  const roots: string[] = [];
  const newRoot = (): string => {
    const r = mkdtempSync(join(tmpdir(), 'cps-template-'));
    // The database's OS user writes the template below it, as below a node's directory.
    chmodSync(r, 0o711);
    roots.push(r);
    return r;
  };

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });

  it('three new agents at once: one template made, three copies, servers that replicate from the first transaction', async () => {
    const root = newRoot();
    const three = await Promise.all([0, 1, 2].map(() => AgentProcess.start({ templateDir: root })));
    agents.push(...three);
    await Promise.all(three.map((a, i) => a.client.call('init_server', { serverId: i + 1 })));
    expect(three.map(datadirOf)).toEqual(['copied', 'copied', 'copied']);
    // One whole template, no lock or half-made copy left.
    expect(readdirSync(root)).toEqual([templateKey()]);
    expect(existsSync(join(root, templateKey(), 'ready'))).toBe(true);
    // Made as an instance of its own: its option file names no node's socket, pid file or log.
    const cnf = readFileSync(join(root, templateKey(), 'my.cnf'), 'utf8');
    for (const a of three) expect(cnf).not.toContain(a.dir);
    const [master, r1, r2] = three as [AgentProcess, AgentProcess, AgentProcess];
    await master.client.call('configure_master', { replUser: REPL.user, replPassword: REPL.password });
    await master.client.call('set_password', { user: APP_USER, password: APP_PASSWORD });
    for (const r of [r1, r2]) await r.client.call('configure_replica', { master: { host: master.host, port: master.mysqlPort, ...REPL }, gtidSlavePos: '' });
    const mc = await connectApp(master.host, master.mysqlPort);
    try {
      await mc.query('CREATE DATABASE t');
      await mc.query('CREATE TABLE t.x (id INT PRIMARY KEY)');
      await mc.query('INSERT INTO t.x VALUES (1), (2), (3)');
      const pos = (await master.client.call('get_status', {})).gtid!.binlogPos;
      for (const [i, r] of [r1, r2].entries()) {
        const w = await r.client.call('wait_for_gtid', { gtid: pos, timeoutSeconds: 30 });
        expect(w.reached, `replica ${i + 1}`).toBe(true);
        const rc = await connectApp(r.host, r.mysqlPort);
        try {
          expect(Number(await scalar(rc, 'SELECT COUNT(*) FROM t.x'))).toBe(3);
          expect(Number(await scalar(rc, 'SELECT @@server_id'))).toBe(i + 2);
        } finally {
          await rc.end();
        }
      }
    } finally {
      await mc.end();
    }
  });

  it("the local cloud manager's warm-up makes the template once, which a new agent then copies; where it cannot, it only warns", async () => {
    const root = newRoot();
    const lines: string[] = [];
    const logger = createLogger('test', { destination: { write: (l: string) => void lines.push(l) } });
    await warmUpHostTemplate(root, databaseOsUser(), logger);
    expect(readdirSync(root)).toEqual([templateKey()]);
    expect(existsSync(join(root, templateKey(), 'ready'))).toBe(true);
    expect(lines.filter((l) => l.includes('data-directory template made'))).toHaveLength(1);
    const made = JSON.parse(lines.find((l) => l.includes('data-directory template made'))!) as { madeIn?: string };
    expect(made.madeIn).toBe(ramScratchRoot() !== null ? 'ram' : 'disk');
    await warmUpHostTemplate(root, databaseOsUser(), logger);
    expect(lines.filter((l) => l.includes('data-directory template made'))).toHaveLength(1);
    const a = await AgentProcess.start({ templateDir: root });
    agents.push(a);
    await a.client.call('init_server', { serverId: 11 });
    expect(datadirOf(a)).toBe('copied');
    const blocked = join(root, 'not-a-directory');
    writeFileSync(blocked, 'a file where the template directory would be\n');
    await warmUpHostTemplate(blocked, databaseOsUser(), logger);
    expect(lines.some((l) => l.includes('cannot make the data-directory template'))).toBe(true);
  });

  it('takes over a lock left by a process that died while making the template, and removes its half-made copy', async () => {
    const root = newRoot();
    const dead = spawnSync('true').pid!;
    mkdirSync(join(root, `${templateKey()}.lock`));
    writeFileSync(join(root, `${templateKey()}.lock`, 'pid'), String(dead));
    // and the half-made copy it left
    mkdirSync(join(root, `${templateKey()}.tmp-${dead}`, 'data'), { recursive: true });
    writeFileSync(join(root, `${templateKey()}.tmp-${dead}`, 'data', 'ibdata1'), Buffer.alloc(4096));
    const a = await AgentProcess.start({ templateDir: root });
    agents.push(a);
    await a.client.call('init_server', { serverId: 7 });
    expect(datadirOf(a)).toBe('copied');
    expect(readdirSync(root)).toEqual([templateKey()]);
  });

  it('makes its own data directory when no template can be made there (not a directory, or closed to the database user)', async () => {
    const root = newRoot();
    const blocked = join(root, 'not-a-directory');
    writeFileSync(blocked, 'a file where the template directory would be\n');
    const closed = mkdtempSync(join(tmpdir(), 'cps-template-closed-'));
    roots.push(closed);
    chmodSync(closed, 0o700);
    const two = await Promise.all([AgentProcess.start({ templateDir: blocked }), AgentProcess.start({ templateDir: join(closed, 'templates') })]);
    agents.push(...two);
    await Promise.all(two.map((a, i) => a.client.call('init_server', { serverId: 8 + i })));
    expect(two.map(datadirOf)).toEqual(['made', 'made']);
    for (const a of two) {
      const s = await eventually(() => a.client.call('get_status', {}), (x) => x.mysqld.state === 'running', 10_000);
      expect(s.mysqld.state).toBe('running');
      // Its log reaches the test through a pipe, with no order against the RPC answer: waited for.
      expect(await eventually(async () => a.logs.includes('cannot make the data-directory template'), (x) => x, 10_000)).toBe(true);
    }
    expect(readdirSync(closed)).toEqual(['templates']);
    expect(readdirSync(join(closed, 'templates'))).toEqual([]);
  });

  it('is made in a RAM-backed directory, copied whole to disk, and nothing of it or of makers that died is left there', async () => {
    const root = newRoot();
    // A directory on disk stands in for /dev/shm: the path through it is the same.
    const scratch = mkdtempSync(join(tmpdir(), 'cps-template-scratch-'));
    roots.push(scratch);
    // Passable by the database's OS user, as /dev/shm is (mode 1777).
    chmodSync(scratch, 0o711);
    const dead = spawnSync('true').pid!;
    mkdirSync(join(scratch, `cps-template-${dead}-abc123`, 'data'), { recursive: true });
    writeFileSync(join(scratch, `cps-template-${dead}-abc123`, 'data', 'ibdata1'), Buffer.alloc(4096));
    mkdirSync(join(scratch, `cps-template-${process.pid}-live01`));
    mkdirSync(join(scratch, 'unrelated'));
    // A dead maker's name on a link, or on what another user owns, is not this maker's to remove.
    const elsewhere = mkdtempSync(join(tmpdir(), 'cps-template-elsewhere-'));
    roots.push(elsewhere);
    writeFileSync(join(elsewhere, 'keep'), 'x');
    symlinkSync(elsewhere, join(scratch, `cps-template-${dead}-link01`));
    const others = process.getuid?.() === 0 ? join(scratch, `cps-template-${dead}-other1`) : null;
    if (others !== null) {
      mkdirSync(others);
      chownSync(others, 65534, 65534);
    }
    const user = databaseOsUser();
    const made = hostTemplate(root, user, () => scratch);
    expect(await made.prepare()).toBe(true);
    expect([made.madeIn, made.ramError]).toEqual(['ram', null]);
    // The dead maker's copy went; a live process's and what is not a maker's stayed; this one's went.
    const kept = [`cps-template-${dead}-link01`, ...(others !== null ? [`cps-template-${dead}-other1`] : []), `cps-template-${process.pid}-live01`, 'unrelated'];
    expect(readdirSync(scratch).sort()).toEqual(kept.sort());
    expect(readFileSync(join(elsewhere, 'keep'), 'utf8')).toBe('x');
    const data = join(root, templateKey(), 'data');
    expect(existsSync(join(root, templateKey(), 'ready'))).toBe(true);
    // Whole: the system tablespace, the redo log at its full length, the system schemas, the database user's.
    expect(statSync(join(data, 'ib_logfile0')).size).toBe(96 * 1024 * 1024);
    expect(statSync(join(data, 'ibdata1')).size).toBeGreaterThan(0);
    for (const schema of ['mysql', 'sys', 'performance_schema']) expect(statSync(join(data, schema)).isDirectory()).toBe(true);
    expect(existsSync(join(data, 'mysql', 'global_priv.MAI'))).toBe(true);
    expect(statSync(join(data, 'mysql')).uid).toBe(user.uid);
    // And a server runs from a copy of it.
    const a = await AgentProcess.start({ templateDir: root });
    agents.push(a);
    await a.client.call('init_server', { serverId: 21 });
    expect(datadirOf(a)).toBe('copied');
    const s = await eventually(() => a.client.call('get_status', {}), (x) => x.mysqld.state === 'running', 10_000);
    expect(s.mysqld.state).toBe('running');
  });

  it('is made on disk when the RAM-backed directory cannot be used', async () => {
    const root = newRoot();
    const made = hostTemplate(root, databaseOsUser(), () => '/nonexistent-cps-scratch');
    expect(await made.prepare()).toBe(true);
    // Said, not hidden: where it was made, and why not in RAM.
    expect(made.madeIn).toBe('disk');
    expect(made.ramError).toContain('ENOENT');
    expect(readdirSync(root)).toEqual([templateKey()]);
    expect(existsSync(join(root, templateKey(), 'data', 'mysql', 'global_priv.MAI'))).toBe(true);
  });

  it('a manager that cannot start (its port taken) makes its host template whole before it exits, leaving nothing half-made', async () => {
    const dataDir = newRoot();
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as AddressInfo).port;
    try {
      const child = spawn(process.execPath, [resolve('dist/cli/main.js'), 'manager', '--port', String(port), '--data-dir', dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      expect(code).toBe(1);
      expect(stderr).toContain('EADDRINUSE');
      // The warm-up began before the listen failed; the exit waited for it.
      const templates = join(dataDir, 'datadir-templates');
      expect(readdirSync(templates)).toEqual([templateKey()]);
      expect(existsSync(join(templates, templateKey(), 'ready'))).toBe(true);
      const shm = existsSync('/dev/shm') ? readdirSync('/dev/shm') : [];
      expect(shm.filter((n) => n.startsWith(`cps-template-${child.pid}-`))).toEqual([]);
    } finally {
      holder.close();
    }
  });
});
