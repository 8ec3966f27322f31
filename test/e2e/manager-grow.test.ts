import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { ManagerProcess } from '../helpers/manager-process.js';
import { connectApp, eventually, scalar } from '../helpers/sql.js';

const hostPort = (s: string): { host: string; port: number } => {
  const [host, port] = s.split(':');
  return { host: host!, port: Number(port) };
};

describe('manager: startup, then add_nodes while the master takes writes', () => {
  let m: ManagerProcess;
  let password: string;
  const conns: Connection[] = [];

  beforeAll(async () => {
    m = await ManagerProcess.start();
  });

  afterAll(async () => {
    await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
    await m.cleanup();
  });

  const connect = async (addr: string): Promise<Connection> => {
    const { host, port } = hostPort(addr);
    const c = await connectApp(host, port, 'mysqldb', password);
    conns.push(c);
    return c;
  };

  /** The receivers of each snapshot copy a node's agent started, in order. */
  const copiesStarted = (id: string): number[] =>
    readFileSync(join(m.dataDir, 'nodes', id, 'agent.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"snapshot copy started"'))
      .map((l) => (JSON.parse(l) as { receivers: number }).receivers);

  it('starts a service with a master', async () => {
    expect(await m.client.call('startup', {})).toEqual({ state: 'PROLOGUE' });
    const info = await m.waitFor('RUNNING');
    expect(info).toMatchObject({ state: 'RUNNING', type: 'mysql', user: 'mysqldb', slaves: [], error: null, desiredReplicas: 0 });
    expect(info.master).toMatch(/^127\.0\.0\.1:[0-9]+$/);
    expect(info.events.map((e) => e.message)).toContain('startup complete: master node-1, no replica');
    password = await m.client.call('get_password', {});
    expect(password.length).toBeGreaterThanOrEqual(20);
  });

  it('adds two replicas in parallel without losing a write acknowledged meanwhile', async () => {
    const info = await m.info();
    const mc = await connect(info.master!);
    await mc.query('CREATE DATABASE app');
    await mc.query('CREATE TABLE app.events (id INT PRIMARY KEY, note VARCHAR(20))');
    const acked: number[] = [];
    let writing = true;
    const writer = (async () => {
      const wc = await connect(info.master!);
      for (let id = 1; writing; id++) {
        await wc.query('INSERT INTO app.events VALUES (?, ?)', [id, 'load']);
        acked.push(id);
      }
    })();
    try {
      expect(await m.client.call('add_nodes', { slaves: 2 })).toEqual({ state: 'ADAPTING' });
      // One operation at a time.
      await expect(m.client.call('add_nodes', { slaves: 1 })).rejects.toThrow('wrong state to add_nodes: ADAPTING (accepted: RUNNING)');
      await m.waitFor('RUNNING');
    } finally {
      writing = false;
      await writer;
    }
    // Read endpoints are the replicas caught up enough to serve reads: under load, one may still
    // be applying the writes that came while it was copied.
    const after = await eventually(() => m.info(), (i) => i.slaves.length === 2, 30_000);
    expect(after.slaves).toHaveLength(2);
    expect(after.desiredReplicas).toBe(2);
    const messages = after.events.map((e) => e.message);
    // Both replicas were provisioned in the same step, from one copy of the master read once
    // for both (issue #17); under load one may have been cut off and copied again alone.
    expect(messages).toContain('add_nodes: provisioning node-2 and node-3 from a snapshot of node-1');
    const copies = copiesStarted('node-1');
    expect(copies[0], copies.join(' | ')).toBe(2);
    expect(copies.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(3);
    expect(acked.length).toBeGreaterThan(10);
    const max = Math.max(...acked);
    for (const addr of after.slaves) {
      const rc = await connect(addr);
      const n = await eventually(() => scalar(rc, 'SELECT COUNT(*) FROM app.events WHERE id <= ?', [max]), (v) => Number(v) === acked.length);
      expect(Number(n)).toBe(acked.length);
    }
    // New writes replicate.
    await mc.query('INSERT INTO app.events VALUES (?, ?)', [1_000_000, 'after']);
    for (const addr of after.slaves) {
      const rc = await connect(addr);
      expect(await eventually(() => scalar(rc, 'SELECT note FROM app.events WHERE id = 1000000'), (v) => v === 'after')).toBe('after');
    }
  });

  it('describes nodes with the seed fields and replication figures', async () => {
    const nodes = await m.client.call('list_nodes', {});
    expect(nodes).toEqual({ masters: ['node-1'], slaves: ['node-2', 'node-3'], serviceNode: ['node-1', 'node-2', 'node-3'] });
    const master = (await m.client.call('get_node_info', { serviceNodeId: 'node-1' })).serviceNode;
    expect(master).toMatchObject({ id: 'node-1', ip: '127.0.0.1', isRunningMySQL: true, isMaster: true, isSlave: false, role: 'master', readOnly: false, replication: null });
    const replica = await eventually(
      async () => (await m.client.call('get_node_info', { id: 'node-2' })).serviceNode,
      (n) => n.replication?.ioRunning === 'Yes',
    );
    expect(replica).toMatchObject({ id: 'node-2', isMaster: false, isSlave: true, role: 'replica', readOnly: true, isRunningMySQL: true });
    expect(replica.replication).toMatchObject({ ioRunning: 'Yes', sqlRunning: 'Yes', lastError: '', masterPort: master.port });
    expect(replica.replication!.gtidPosition).toMatch(/^0-1-[0-9]+$/);
    await expect(m.client.call('get_node_info', { serviceNodeId: 'node-9' })).rejects.toThrow('no node node-9 in this service (nodes: node-1, node-2, node-3)');
  });
  it('copies a replica added to a service with caught-up replicas from one of them, not from the master (issue #17)', async () => {
    const snapshotsServed = (id: string): number => readFileSync(join(m.dataDir, 'nodes', id, 'agent.log'), 'utf8').split('\n').filter((l) => l.includes('"streaming a snapshot"') || l.includes('"sending a snapshot over a data channel"')).length;
    const before = snapshotsServed('node-1');
    const info = await m.info();
    const mc = await connect(info.master!);
    await eventually(() => m.info(), (i) => i.nodes.filter((n) => n.servesReads).length === 2, 20_000);
    await m.client.call('add_nodes', { slaves: 1 });
    await mc.query('INSERT INTO app.events VALUES (?, ?)', [3_000_000, 'during']);
    await m.waitFor('RUNNING');
    const messages = (await m.info()).events.map((e) => e.message);
    expect(messages.some((e) => /^add_nodes: provisioning node-4 from a snapshot of node-[23] \(a caught-up replica: the master's writes untouched\), attached to node-1$/.test(e)), messages.join(' | ')).toBe(true);
    expect(snapshotsServed('node-1')).toBe(before);
    // A copy cut short is taken again: at least one, and only from replicas.
    expect(snapshotsServed('node-2') + snapshotsServed('node-3')).toBeGreaterThanOrEqual(1);
    // It came over the data channel (socat with TLS, outside Node), not the HTTPS stream.
    expect(readFileSync(join(m.dataDir, 'nodes', 'node-4', 'agent.log'), 'utf8')).toMatch(/"over":"channel"[^\n]*"provisioned from snapshot"/);
    const n4 = (await m.info()).nodes.find((n) => n.id === 'node-4')!;
    const rc = await connect(`${n4.ip}:${n4.port}`);
    const total = Number(await scalar(mc, 'SELECT COUNT(*) FROM app.events'));
    expect(Number(await eventually(() => scalar(rc, 'SELECT COUNT(*) FROM app.events'), (v) => Number(v) === total))).toBe(total);
    await m.client.call('remove_nodes', { slaves: 1 });
    await m.waitFor('RUNNING');
  });


  it('reports performance from real counters under a write load', async () => {
    const info = await m.info();
    const wc = await connect(info.master!);
    const deadline = Date.now() + 3000;
    let writes = 0;
    while (Date.now() < deadline) {
      await wc.query('INSERT INTO app.events VALUES (?, ?)', [2_000_000 + writes, 'perf']);
      writes++;
    }
    const rate = writes / 3;
    const perf = await eventually(
      () => m.client.call('get_service_performance', {}),
      (p) => p.throughput > 0 && p.request_rate > 0,
    );
    expect(perf.interval).toBeGreaterThan(0);
    expect(perf.nodes['node-1']?.role).toBe('master');
    // Figures of the same order as the load: each insert is one statement and one commit.
    expect(perf.throughput).toBeGreaterThan(rate * 0.1);
    expect(perf.throughput).toBeLessThan(rate * 3);
    expect(perf.request_rate).toBeGreaterThan(rate * 0.1);
    expect(perf.response_time).toBeGreaterThan(0);
    expect(perf.error_rate).toBe(0);
  });
});
