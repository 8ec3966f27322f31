import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql, { type Connection } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { haproxyConfig } from '../../src/cli/client/haproxy.js';
import type { ServiceInfo } from '../../src/protocol/manager-api.js';
import { isAlive, sleep } from '../../src/util/proc.js';
import { Haproxy } from '../helpers/haproxy.js';
import { ManagerProcess } from '../helpers/manager-process.js';
import { pidsOf } from '../helpers/nodes.js';
import { freePort } from '../helpers/ports.js';
import { connectApp, eventually, scalar } from '../helpers/sql.js';

async function killAndWait(pids: number[]): Promise<void> {
  for (const p of pids) process.kill(p, 'SIGKILL');
  for (const p of pids) while (isAlive(p)) await sleep(5);
}

/** Samples every node's read_only through its agent; remembers the most nodes writable at once. */
class WritableSampler {
  maxWritable = 0;
  everWritable = new Set<string>();
  private running = true;
  private done: Promise<void>;
  constructor(m: ManagerProcess, nodes: () => ServiceInfo['nodes']) {
    this.done = (async () => {
      while (this.running) {
        const ns = nodes();
        const writable = await Promise.all(
          ns.map(async (n) => {
            try {
              const s = await m.agent(n, 500).call('get_status', {});
              return s.mysqld.state === 'running' && s.readOnly === false ? n.id : null;
            } catch {
              return null;
            }
          }),
        );
        const ids = writable.filter((x): x is string => x !== null);
        for (const id of ids) this.everWritable.add(id);
        this.maxWritable = Math.max(this.maxWritable, ids.length);
        await sleep(30);
      }
    })();
  }
  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** A client inserting through HAProxy's write port, reconnecting on failure, recording every acknowledged id. */
class Writer {
  acked: number[] = [];
  ackTimes: number[] = [];
  private running = true;
  private done: Promise<void>;
  constructor(port: number, password: string, table: string) {
    this.done = (async () => {
      let c: Connection | null = null;
      let id = 1;
      while (this.running) {
        try {
          c ??= await mysql.createConnection({ host: '127.0.0.1', port, user: 'mysqldb', password, connectTimeout: 2000 });
          await c.query(`INSERT INTO ${table} VALUES (?)`, [id]);
          this.acked.push(id);
          this.ackTimes.push(Date.now());
          id++;
        } catch {
          c?.destroy();
          c = null;
          id++; // an unacknowledged id is never reused: it may or may not have committed
          await sleep(20);
        }
      }
      c?.destroy();
    })();
  }
  async waitForAcks(n: number, timeoutMs = 60_000): Promise<void> {
    const target = this.acked.length + n;
    const deadline = Date.now() + timeoutMs;
    while (this.acked.length < target) {
      if (Date.now() > deadline) throw new Error(`only ${this.acked.length} of ${target} writes acknowledged`);
      await sleep(20);
    }
  }
  firstAckAfter(t: number): number | null {
    return this.ackTimes.find((x) => x > t) ?? null;
  }
  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

async function allRowsEverywhere(info: ServiceInfo, password: string, table: string, acked: number[]): Promise<void> {
  const max = Math.max(...acked);
  for (const n of info.nodes) {
    const c = await connectApp(n.ip, n.port, 'mysqldb', password);
    try {
      const count = await eventually(() => scalar(c, `SELECT COUNT(*) FROM ${table} WHERE id IN (?)`, [acked]), (v) => Number(v) === acked.length, 30_000);
      expect(Number(count), `${n.id} holds every acknowledged row up to ${max}`).toBe(acked.length);
    } finally {
      await c.end();
    }
  }
}

describe('automatic failover: no acknowledged write lost, clients routed by HAProxy', () => {
  const managers: ManagerProcess[] = [];
  const haproxy = new Haproxy();
  afterAll(async () => {
    await haproxy.cleanup();
    await Promise.all(managers.map((m) => m.cleanup()));
  });

  it('survives the master being killed (mariadbd and agent, SIGKILL) three times in a row under writes', async () => {
    const m = await ManagerProcess.start({ monitorMs: 500, args: ['--failover-block-seconds', '2'] });
    managers.push(m);
    await m.client.call('startup', { slaves: 2 });
    let info = await m.waitFor('RUNNING');
    const password = await m.client.call('get_password', {});
    const [mh, mp] = info.master!.split(':');
    const setup = await connectApp(mh!, Number(mp), 'mysqldb', password);
    await setup.query('CREATE DATABASE ha');
    await setup.query('CREATE TABLE ha.t (id INT PRIMARY KEY)');
    await setup.end();
    const writePort = await freePort();
    const readPort = await freePort();
    const timings: number[] = [];

    for (let round = 1; round <= 3; round++) {
      info = await m.waitFor('RUNNING');
      expect(info.nodes.filter((n) => n.status === 'ready')).toHaveLength(3);
      await haproxy.start(haproxyConfig(info, { writePort, readPort, maxLagSeconds: 10, bind: '127.0.0.1' }), writePort);
      const nodes = info.nodes;
      const sampler = new WritableSampler(m, () => nodes);
      const writer = new Writer(writePort, password, 'ha.t');
      try {
        await writer.waitForAcks(30);
        const master = info.nodes.find((n) => n.isMaster)!;
        await killAndWait(Object.values(pidsOf(m, master.id)));
        const killedAt = Date.now();
        await writer.waitForAcks(30);
        timings.push(writer.firstAckAfter(killedAt)! - killedAt);
      } finally {
        await writer.stop();
        await sampler.stop();
      }
      expect(sampler.maxWritable, 'never two writable nodes at once').toBeLessThanOrEqual(1);
      const after = await m.waitFor('RUNNING');
      const events = after.events.map((e) => e.message);
      expect(events.some((e) => /^promoted node-[0-9]+: most advanced GTID 0-[0-9]+-[0-9]+/.test(e))).toBe(true);
      // The service keeps its size: the lost node is replaced.
      const ready = await eventually(() => m.info(), (i) => i.state === 'RUNNING' && i.operation === null && i.nodes.filter((n) => n.status === 'ready').length === 3, 60_000);
      await allRowsEverywhere(ready, password, 'ha.t', writer.acked);
      // The next automatic failover waits for the (short) anti-flapping block.
      await eventually(() => m.info(), (i) => i.failover.blockedUntil === null, 10_000);
    }
    // Kill → first acknowledged write on the new master, as the client saw it.
    process.stdout.write(`failover as the client saw it (ms): ${timings.join(', ')}\n`);
    expect(timings).toHaveLength(3);
  });

  it('refuses to fail over when only the manager lost the master, and says why', async () => {
    const faults = join((await import('node:os')).tmpdir(), `cps-faults-${process.pid}.json`);
    writeFileSync(faults, '{"unreachable": []}');
    const m = await ManagerProcess.start({ monitorMs: 300, env: { CPS_MYSQL_FAULTS: faults } });
    managers.push(m);
    await m.client.call('startup', { slaves: 2 });
    await m.waitFor('RUNNING');
    writeFileSync(faults, '{"unreachable": ["node-1"]}');
    const info = await eventually(() => m.info(), (i) => i.events.some((e) => e.message.startsWith('failover refused')), 20_000);
    expect(info.events.map((e) => e.message)).toContain('failover refused: replicas still connected to node-1 (node-2 and node-3); master node-1 unreachable from manager');
    await sleep(2000);
    const still = await m.info();
    expect(still.state).toBe('RUNNING');
    expect((await m.client.call('list_nodes', {})).masters).toEqual(['node-1']);
    expect(still.events.some((e) => e.message.includes('failing over'))).toBe(false);
    writeFileSync(faults, '{"unreachable": []}');
  });

  it('keeps an old master read-only when it comes back, and re-attaches it as a replica', async () => {
    const m = managers[1]!;
    await eventually(() => m.info(), (i) => (i.diagnosis ?? '').startsWith('service RUNNING'), 20_000);
    const info = await m.info();
    const nodes = info.nodes;
    const sampler = new WritableSampler(m, () => nodes);
    // Only mariadbd dies; its agent stays and reports it.
    const killedAt = Date.now();
    await killAndWait([pidsOf(m, 'node-1').mysqld]);
    const after = await eventually(
      () => m.info(),
      (i) => i.state === 'RUNNING' && i.operation === null && i.nodes.find((n) => n.id === 'node-1')?.status === 'ready' && i.nodes.find((n) => n.id === 'node-1')?.replication?.ioRunning === 'Yes',
      60_000,
    );
    await sampler.stop();
    const old = after.nodes.find((n) => n.id === 'node-1')!;
    expect(old).toMatchObject({ role: 'replica', readOnly: true, isRunningMySQL: true });
    expect(sampler.maxWritable).toBeLessThanOrEqual(1);
    const events = after.events.map((e) => e.message);
    expect(events).toContain('node-1 (former master) is down: restarting its mariadbd, read-only');
    expect(events.some((e) => e.startsWith('node-1 (former master) is back, read-only: re-attaching it to'))).toBe(true);
    expect(events).toContain(`node-1 rejoined as a replica of ${after.nodes.find((n) => n.isMaster)!.id}`);
    expect(Date.now() - killedAt).toBeGreaterThan(0);
    // Writes on the new master reach the old one.
    const password = await m.client.call('get_password', {});
    const [h, p] = after.master!.split(':');
    const c = await connectApp(h!, Number(p), 'mysqldb', password);
    await c.query('CREATE DATABASE back');
    await c.end();
    const oc = await connectApp(old.ip, old.port, 'mysqldb', password);
    expect(Number(await eventually(() => scalar(oc, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'back'"), (v) => Number(v) === 1))).toBe(1);
    await oc.end();
  });
});
