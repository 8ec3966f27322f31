import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../src/protocol/manager-api.js';
import { sleep } from '../../src/util/proc.js';
import { killAndWait, WritableSampler, Writer } from '../helpers/clients.js';
import { ManagerProcess } from '../helpers/manager-process.js';
import { pidsOf } from '../helpers/nodes.js';
import { RouterProcess } from '../helpers/router-process.js';
import { connectApp, eventually, scalar } from '../helpers/sql.js';

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

describe('automatic failover: no acknowledged write lost, clients routed by the router', () => {
  const managers: ManagerProcess[] = [];
  const routers: RouterProcess[] = [];
  const faultFiles: string[] = [];
  afterAll(async () => {
    for (const f of faultFiles) rmSync(f, { force: true });
    await Promise.all(routers.map((r) => r.stop()));
    await Promise.all(managers.map((m) => m.cleanup()));
  });

  it('through the router: add, remove, switchover and three failovers in a row; writes follow the master, reads only reach replicas, no acknowledged write lost', async () => {
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
    const router = await RouterProcess.start(m);
    routers.push(router);
    const writer = new Writer(router.writePort, password, 'ha.t');
    /** The server a new connection through the router lands on; a connection cut because its node is being removed is tried again, as a client would. */
    const serverIdOf = async (port: number): Promise<number> => {
      for (let attempt = 1; ; attempt++) {
        try {
          const c = await connectApp('127.0.0.1', port, 'mysqldb', password);
          try {
            return Number(await scalar(c, 'SELECT @@server_id'));
          } finally {
            c.destroy();
          }
        } catch (err) {
          if (attempt === 3) throw err;
          await sleep(200);
        }
      }
    };
    const masterId = async (): Promise<number> => Number((await m.info()).nodes.find((n) => n.isMaster && n.status === 'ready')?.id.replace('node-', ''));
    /** Reads through the router land only on replicas: never on the master. */
    const readsOnReplicas = async (): Promise<Set<number>> => {
      const seen = new Set<number>();
      const master = await masterId();
      for (let i = 0; i < 12; i++) {
        const id = await serverIdOf(router.readPort);
        expect(id, 'a read reached the master').not.toBe(master);
        seen.add(id);
      }
      return seen;
    };
    const timings: number[] = [];
    try {
      await writer.waitForAcks(20);
      expect(await serverIdOf(router.writePort)).toBe(1);
      expect([...(await readsOnReplicas())].every((id) => id === 2 || id === 3)).toBe(true);

      // A node added is offered for reads with no manual step.
      await m.client.call('add_nodes', { slaves: 1 });
      await m.waitFor('RUNNING');
      await eventually(async () => readsOnReplicas(), (ids) => ids.has(4), 30_000);
      // A node removed is taken out.
      await m.client.call('remove_nodes', { serviceNodeId: 'node-4' });
      await m.waitFor('RUNNING');
      await sleep(1000);
      expect((await readsOnReplicas()).has(4)).toBe(false);

      // A switchover: writes follow.
      await m.client.call('set_up_replica_master', { serviceNodeId: 'node-2' });
      await m.waitFor('RUNNING');
      await writer.waitForAcks(20);
      expect(await eventually(() => serverIdOf(router.writePort), (id) => id === 2, 10_000)).toBe(2);

      // Three failovers in a row: the master killed (mariadbd and agent), under writes.
      for (let round = 1; round <= 3; round++) {
        info = await eventually(() => m.info(), (i) => i.state === 'RUNNING' && i.operation === null && i.nodes.filter((n) => n.status === 'ready').length === 3 && i.failover.blockedUntil === null, 90_000);
        const nodes = info.nodes;
        const sampler = new WritableSampler(m, () => nodes);
        try {
          await writer.waitForAcks(20);
          const master = info.nodes.find((n) => n.isMaster)!;
          await killAndWait(Object.values(pidsOf(m, master.id)));
          const killedAt = Date.now();
          await writer.waitForAcks(20);
          timings.push(writer.firstAckAfterFailure(killedAt)! - killedAt);
          const now = await masterId();
          expect(now).not.toBe(Number(master.id.replace('node-', '')));
          expect(await serverIdOf(router.writePort)).toBe(now);
          // The promoted node leaves the read port once HAProxy's replica check sees it (≤ ~0.5 s;
          // meanwhile a read there is not stale: it is the newest node).
          await sleep(1000);
          await readsOnReplicas();
        } finally {
          await sampler.stop();
        }
        expect(sampler.maxWritable, 'never two writable nodes at once').toBeLessThanOrEqual(1);
        const events = (await m.info()).events.map((e) => e.message);
        expect(events.some((e) => /^promoted node-[0-9]+: most advanced GTID 0-[0-9]+-[0-9]+/.test(e))).toBe(true);
      }
    } finally {
      await writer.stop();
    }
    // The service keeps its size, and every node holds every acknowledged write.
    const ready = await eventually(() => m.info(), (i) => i.state === 'RUNNING' && i.operation === null && i.nodes.filter((n) => n.status === 'ready').length === 3, 90_000);
    await allRowsEverywhere(ready, password, 'ha.t', writer.acked);
    process.stdout.write(`failover through the router as the client saw it (ms): ${timings.join(', ')}\n`);
    expect(timings).toHaveLength(3);
    await router.stop();
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
    faultFiles.push(faults);
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
