import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../src/protocol/manager-api.js';
import { isAlive, sleep } from '../../src/util/proc.js';
import { killAndWait, Writer } from '../helpers/clients.js';
import { ManagerProcess } from '../helpers/manager-process.js';
import { pidsOf, rootOn } from '../helpers/nodes.js';
import { connectApp, eventually, scalar } from '../helpers/sql.js';

const run = promisify(execFile);
const CLI = resolve('dist/cli/main.js');

/** Signals a process the test started (through the manager), by its PID; false when it is gone. */
function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/**
 * The master in trouble, over real mariadbd: an errant replica does not block the failover; a
 * frozen master is replaced fast and never takes a write again; after a total outage no node
 * behind the last master is promoted on its own, the master's return ends the outage, and an
 * operator's `failover --force` accepts a loss and says how much.
 */
describe('failover when things are not clean (real mariadbd)', () => {
  const managers: ManagerProcess[] = [];
  const stopped: number[] = [];
  afterAll(async () => {
    for (const pid of stopped) signal(pid, 'SIGCONT');
    await Promise.all(managers.map((m) => m.cleanup()));
  });

  async function service(slaves: number, args: string[] = []): Promise<{ m: ManagerProcess; password: string }> {
    const m = await ManagerProcess.start({ monitorMs: 500, args: ['--failover-block-seconds', '0', ...args] });
    managers.push(m);
    await m.client.call('startup', { slaves });
    const info = await m.waitFor('RUNNING');
    const password = await m.client.call('get_password', {});
    const [h, p] = info.master!.split(':');
    const c = await connectApp(h!, Number(p), 'mysqldb', password);
    await c.query('CREATE DATABASE f');
    await c.query('CREATE TABLE f.t (id INT PRIMARY KEY)');
    await c.end();
    return { m, password };
  }

  async function holds(info: ServiceInfo, id: string, password: string, acked: number[]): Promise<number> {
    const n = info.nodes.find((x) => x.id === id)!;
    const c = await connectApp(n.ip, n.port, 'mysqldb', password);
    try {
      return Number(await eventually(() => scalar(c, 'SELECT COUNT(*) FROM f.t WHERE id IN (?)', [acked]), (v) => Number(v) === acked.length, 20_000));
    } finally {
      await c.end();
    }
  }

  it('case 1: a replica with an errant transaction, then the master killed: node-3 is promoted with every acknowledged write, node-2 is diagnosed errant and replaced', async () => {
    const { m, password } = await service(2);
    const root = await rootOn(m, 'node-2');
    try {
      await root.query('SET SESSION sql_log_bin = 1');
      await root.query('SET GLOBAL read_only = 0');
      await root.query('INSERT INTO f.t VALUES (1000000)');
      await root.query('SET GLOBAL read_only = 1');
    } finally {
      await root.end();
    }
    const info = await m.info();
    const master = info.master!.split(':');
    const writer = new Writer(Number(master[1]), password, 'f.t');
    await writer.waitForAcks(30);
    await writer.stop();
    await killAndWait(Object.values(pidsOf(m, 'node-1')));
    const after = await eventually(() => m.info(), (i) => i.state !== 'ADAPTING' && i.nodes.some((n) => n.isMaster && n.status === 'ready' && n.id !== 'node-1'), 60_000);
    expect(after.state).toBe('RUNNING');
    expect(after.nodes.find((n) => n.isMaster)!.id).toBe('node-3');
    expect(await holds(after, 'node-3', password, writer.acked)).toBe(writer.acked.length);
    const events = after.events.map((e) => e.message);
    expect(events.some((e) => /^failover: choosing node-3, which holds the most .*; not node-2 holds errant transactions \(0-2-[0-9]+\) its master never had$/.test(e))).toBe(true);
    expect(events.some((e) => e.includes('did not apply'))).toBe(false);
    const replaced = await eventually(() => m.info(), (i) => !i.nodes.some((n) => n.id === 'node-2') && i.operation === null && i.nodes.some((n) => n.role === 'replica' && n.status === 'ready'), 120_000);
    expect(replaced.events.map((e) => e.message).some((e) => /^node-2 holds errant transactions \(0-2-[0-9]+\) its master never had: replacing it with a fresh copy of node-3$/.test(e))).toBe(true);
  });

  it('a frozen master (SIGSTOP of its mariadbd) is failed over; after SIGCONT it never takes a write; it rejoins', async () => {
    const { m, password } = await service(2);
    const info = await m.info();
    const master = info.master!.split(':');
    const writer = new Writer(Number(master[1]), password, 'f.t');
    await writer.waitForAcks(20);
    await writer.stop();
    const mysqld = pidsOf(m, 'node-1').mysqld;
    signal(mysqld, 'SIGSTOP');
    stopped.push(mysqld);
    const frozenAt = Date.now();
    const after = await eventually(() => m.info(), (i) => i.nodes.some((n) => n.isMaster && n.status === 'ready' && n.id !== 'node-1'), 30_000);
    const promotedMs = Date.now() - frozenAt;
    const events = after.events.map((e) => e.message);
    expect(events).toContain("master node-1's mariadbd does not answer its agent (node-2 and node-3 answer): failing over");
    process.stdout.write(`frozen master → new master in the registry: ${promotedMs} ms\n`);
    // SIGCONT: the fence killed it already, or it wakes up read-only; either way it takes no write.
    signal(mysqld, 'SIGCONT');
    const old = after.nodes.find((n) => n.id === 'node-1')!;
    for (let i = 0; i < 20; i++) {
      const c = await connectApp(old.ip, old.port, 'mysqldb', password).catch(() => null);
      if (c) {
        await expect(c.query('INSERT INTO f.t VALUES (?)', [2_000_000 + i])).rejects.toThrow();
        await c.end();
      }
      await sleep(100);
    }
    const rejoined = await eventually(() => m.info(), (i) => i.nodes.find((n) => n.id === 'node-1')?.status === 'ready' && i.nodes.find((n) => n.id === 'node-1')?.replication?.ioRunning === 'Yes', 60_000);
    expect(rejoined.nodes.find((n) => n.id === 'node-1')).toMatchObject({ role: 'replica', readOnly: true });
    expect(await holds(rejoined, after.nodes.find((n) => n.isMaster)!.id, password, writer.acked)).toBe(writer.acked.length);
    expect(isAlive(mysqld)).toBe(false);
  });

  it('total outage: a replica behind the last master is not promoted; the master coming back serves again with every write; failover --force promotes the lagging one and reports the loss', async () => {
    const { m, password } = await service(1);
    const info = await m.info();
    const [mh, mp] = info.master!.split(':');
    const write = async (ids: number[]): Promise<void> => {
      const c = await connectApp(mh!, Number(mp), 'mysqldb', password);
      for (const id of ids) await c.query('INSERT INTO f.t VALUES (?)', [id]);
      await c.end();
    };
    /** node-2 falls behind: its replication stopped and its agent frozen, so the manager cannot repair it. */
    const behind = async (): Promise<number> => {
      const root = await rootOn(m, 'node-2');
      await root.query('STOP SLAVE');
      await root.end();
      const agent = pidsOf(m, 'node-2').agent;
      signal(agent, 'SIGSTOP');
      stopped.push(agent);
      return agent;
    };
    /** Waits until the manager saw the master's binary log as it is now (it records the last master's position from what it sees). */
    const managerSaw = async (): Promise<void> => {
      const root = await rootOn(m, 'node-1');
      const pos = String(await scalar(root, 'SELECT @@gtid_binlog_pos'));
      await root.end();
      await eventually(() => m.info(), (i) => i.nodes.find((n) => n.id === 'node-1')?.gtidPosition === pos, 10_000);
    };
    await write([1, 2, 3]);
    await managerSaw();
    await eventually(() => m.info(), (i) => i.nodes.find((n) => n.id === 'node-2')?.gtidPosition === i.nodes.find((n) => n.id === 'node-1')?.gtidPosition, 10_000);
    let agent2 = await behind();
    await write([4, 5, 6, 7]);
    await managerSaw();
    // Every node down: node-1's server killed and its agent frozen; node-2's agent frozen.
    const p1 = pidsOf(m, 'node-1');
    await killAndWait([p1.mysqld]);
    signal(p1.agent, 'SIGSTOP');
    stopped.push(p1.agent);
    await eventually(() => m.info(), (i) => i.events.some((e) => e.message.startsWith('every node is down')), 20_000);
    // Only the replica that is behind comes back.
    signal(agent2, 'SIGCONT');
    const refused = await eventually(() => m.info(), (i) => i.state === 'ERROR' && i.operation === null, 60_000);
    expect(refused.error).toMatch(/^failover from node-1 refused: promoting node-2 would lose 4 transactions \(from 0-1-[0-9]+ to 0-1-[0-9]+\); ways out: .*`failover node-2 --force`/);
    await sleep(3000);
    const still = await m.info();
    expect(still.state).toBe('ERROR');
    expect(still.master).toBeNull();
    // The master's node comes back: it is the master again, with every write; node-2 catches up.
    signal(p1.agent, 'SIGCONT');
    const back = await eventually(() => m.info(), (i) => i.state === 'RUNNING' && i.operation === null && i.master !== null && i.nodes.find((n) => n.id === 'node-2')?.replication?.ioRunning === 'Yes', 60_000);
    expect(back.nodes.find((n) => n.isMaster)!.id).toBe('node-1');
    expect(back.events.map((e) => e.message)).toContain('node-1, the master before the failure, is back with every transaction: making it the master again');
    expect(await holds(back, 'node-1', password, [1, 2, 3, 4, 5, 6, 7])).toBe(7);
    expect(await holds(back, 'node-2', password, [1, 2, 3, 4, 5, 6, 7])).toBe(7);

    // Again, and this time an operator accepts the loss.
    agent2 = await behind();
    await write([8, 9]);
    await managerSaw();
    const p1b = pidsOf(m, 'node-1');
    await killAndWait([p1b.mysqld]);
    signal(p1b.agent, 'SIGSTOP');
    stopped.push(p1b.agent);
    await eventually(() => m.info(), (i) => i.events.filter((e) => e.message.startsWith('every node is down')).length >= 2, 20_000);
    signal(agent2, 'SIGCONT');
    await eventually(() => m.info(), (i) => i.state === 'ERROR' && i.operation === null, 60_000);
    const env = { ...process.env, CPS_MYSQL_TOKEN: m.token };
    const { stdout } = await run(process.execPath, [CLI, '--manager', `http://127.0.0.1:${m.port}/`, 'failover', 'node-2', '--force'], { env });
    expect(stdout).toContain('RUNNING');
    const forced = await m.info();
    expect(forced.nodes.find((n) => n.isMaster)!.id).toBe('node-2');
    expect(forced.events.map((e) => e.message).some((e) => /^promoted node-2: .*; 2 transactions \(from 0-1-[0-9]+ to 0-1-[0-9]+\) given up \(forced\)$/.test(e))).toBe(true);
    signal(p1b.agent, 'SIGCONT');
  });
});
