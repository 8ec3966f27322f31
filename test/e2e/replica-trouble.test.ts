import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../src/protocol/manager-api.js';
import { isAppError } from '../../src/util/errors.js';
import { sleep } from '../../src/util/proc.js';
import { killAndWait } from '../helpers/clients.js';
import { ManagerProcess } from '../helpers/manager-process.js';
import { onMaster as onMasterAs, pidsOf, rootOn } from '../helpers/nodes.js';
import { connectApp, eventually, scalar } from '../helpers/sql.js';

/**
 * Every replica is watched, over real mariadbd: a replica whose server was killed is restarted
 * and not offered for reads while down; one whose SQL thread was stopped by hand is re-pointed;
 * a switchover to a broken replica is refused before any write is blocked; a switchover whose
 * candidate cannot catch up gives writes back within the switchover timeout plus a second.
 */
describe('replicas watched, planned operations checked (real mariadbd)', () => {
  let m: ManagerProcess;
  let password: string;
  const messages = async (): Promise<string[]> => (await m.info()).events.map((e) => e.message);
  /** The node in `info`; a node that left the service fails the test naming what the manager did. */
  const nodeOf = (info: ServiceInfo, id: string) => {
    const n = info.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`${id} is no longer in the service; events: ${info.events.map((e) => e.message).join(' | ')}`);
    return n;
  };
  const onMaster = async (sql: string, values?: unknown[]): Promise<void> => {
    await onMasterAs(m, password, (c) => c.query(sql, values));
  };
  const rowsOn = async (info: ServiceInfo, id: string): Promise<number> => {
    const n = nodeOf(info, id);
    const c = await connectApp(n.ip, n.port, 'mysqldb', password);
    try {
      return Number(await scalar(c, 'SELECT COUNT(*) FROM w.t'));
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    m = await ManagerProcess.start({ monitorMs: 1000 });
    await m.client.call('startup', { slaves: 2 });
    await m.waitFor('RUNNING');
    password = await m.client.call('get_password', {});
    await onMaster('CREATE DATABASE w');
    await onMaster('CREATE TABLE w.t (id INT PRIMARY KEY, v INT NOT NULL DEFAULT 0)');
    await onMaster('INSERT INTO w.t (id) VALUES (1), (2), (3)');
  });
  afterAll(async () => {
    await m?.cleanup();
  });

  it("case 3: a replica's mariadbd killed is restarted read-only, catches up, and is not offered for reads while down", async () => {
    await killAndWait([pidsOf(m, 'node-2').mysqld]);
    const killedAt = Date.now();
    await onMaster('INSERT INTO w.t (id) VALUES (10), (11)');
    // While it is down, get_service_info does not list it as a read endpoint.
    const down = await eventually(() => m.info(), (i) => nodeOf(i, 'node-2').servesReads === false, 10_000);
    const n2 = nodeOf(down, 'node-2');
    expect(down.slaves).not.toContain(`${n2.ip}:${n2.port}`);
    const back = await eventually(() => m.info(), (i) => nodeOf(i, 'node-2').servesReads && i.slaves.includes(`${n2.ip}:${n2.port}`), 30_000);
    const recovered = Date.now() - killedAt;
    expect(nodeOf(back, 'node-2')).toMatchObject({ readOnly: true, isRunningMySQL: true, diagnosis: 'node-2 replicates' });
    expect(await eventually(() => rowsOn(back, 'node-2'), (c) => c === 5, 10_000)).toBe(5);
    expect(await messages()).toContain("node-2's mariadbd is down: restarting it, read-only");
    process.stdout.write(`replica mariadbd killed → serving reads again: ${recovered} ms\n`);
  });

  it('a replica whose mariadbd is frozen (SIGSTOP) takes no reads, is left alone a few checks, then is stopped and started again, read-only', async () => {
    await m.waitFor('RUNNING');
    await eventually(() => m.info(), (i) => nodeOf(i, 'node-2').servesReads === true, 20_000);
    const frozen = pidsOf(m, 'node-2').mysqld;
    process.kill(frozen, 'SIGSTOP');
    const frozenAt = Date.now();
    try {
      const silent = await eventually(() => m.info(), (i) => nodeOf(i, 'node-2').servesReads === false, 10_000);
      const n2 = nodeOf(silent, 'node-2');
      expect(silent.slaves).not.toContain(`${n2.ip}:${n2.port}`);
      // While silent it is watched, not restarted: a busy server answers again by itself.
      await sleep(1500);
      expect(await messages()).not.toContain("node-2's mariadbd runs but does not answer: stopping and restarting it, read-only");
      const back = await eventually(() => m.info(), (i) => nodeOf(i, 'node-2').servesReads && i.slaves.includes(`${n2.ip}:${n2.port}`), 40_000);
      expect(nodeOf(back, 'node-2')).toMatchObject({ readOnly: true, isRunningMySQL: true, diagnosis: 'node-2 replicates' });
      expect(await messages()).toContain("node-2's mariadbd runs but does not answer: stopping and restarting it, read-only");
      expect(pidsOf(m, 'node-2').mysqld).not.toBe(frozen);
      process.stdout.write(`replica mariadbd frozen → serving reads again: ${Date.now() - frozenAt} ms\n`);
    } finally {
      try {
        process.kill(frozen, 'SIGCONT');
      } catch {
        // gone: it was stopped
      }
    }
  });

  it('a replica whose SQL thread was stopped by hand is re-pointed and replicates again', async () => {
    const root = await rootOn(m, 'node-3');
    try {
      await root.query('STOP SLAVE SQL_THREAD');
    } finally {
      await root.end();
    }
    await onMaster('INSERT INTO w.t (id) VALUES (20)');
    const info = await eventually(() => m.info(), (i) => nodeOf(i, 'node-3').replication?.sqlRunning === 'Yes' && i.events.some((e) => e.message.startsWith('node-3 does not replicate: its SQL thread is stopped')), 20_000);
    expect(await messages()).toContain('node-3 does not replicate: its SQL thread is stopped: re-pointing it to node-1');
    expect(await eventually(() => rowsOn(info, 'node-3'), (c) => c === 6, 10_000)).toBe(6);
  });

  it('a switchover whose candidate cannot catch up gives writes back within the timeout plus a second, and says why', async () => {
    await m.waitFor('RUNNING');
    // A session on node-3 holds a row lock: the replicated update of that row waits behind it.
    const root = await rootOn(m, 'node-3');
    const master = nodeOf(await m.info(), 'node-1');
    const agent = m.agent(master, 2000);
    try {
      await root.query('BEGIN');
      await root.query('SELECT * FROM w.t WHERE id = 1 FOR UPDATE');
      await onMaster('UPDATE w.t SET v = v + 1 WHERE id = 1');
      await m.client.call('set_up_replica_master', { serviceNodeId: 'node-3' });
      // Sample the master's read_only: the write block must end by itself.
      let blockedAt: number | null = null;
      let writableAgainAt: number | null = null;
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && writableAgainAt === null) {
        const st = await agent.call('get_status', {}).catch(() => null);
        if (st?.readOnly === true && blockedAt === null) blockedAt = Date.now();
        if (st?.readOnly === false && blockedAt !== null) writableAgainAt = Date.now();
        await sleep(25);
      }
      expect(blockedAt, 'the switchover blocked writes').not.toBeNull();
      expect(writableAgainAt, 'writes came back').not.toBeNull();
      const blockedMs = writableAgainAt! - blockedAt!;
      process.stdout.write(`switchover that cannot catch up: writes blocked ${blockedMs} ms (timeout 5 s)\n`);
      expect(blockedMs).toBeLessThanOrEqual(6000);
    } finally {
      await root.query('ROLLBACK').catch(() => undefined);
      await root.end();
    }
    const info = await m.waitFor('RUNNING');
    expect(info.master).toBe(`${master.ip}:${master.port}`);
    expect(info.error).toMatch(/node-3 did not apply .* within 5 s/);
    const events = await messages();
    expect(events).toContain('switchover abandoned: writes resume on node-1');
    expect(events.filter((e) => e.startsWith('switchover: waiting for node-3'))).toHaveLength(1);
  });

  it('case 2: a switchover to a replica stopped on a duplicate key is refused before any write is blocked, naming the error; the replica is then replaced', async () => {
    await m.waitFor('RUNNING');
    const root = await rootOn(m, 'node-2');
    try {
      await root.query('SET SESSION sql_log_bin = 0');
      await root.query('SET GLOBAL read_only = 0');
      await root.query('INSERT INTO w.t (id) VALUES (77)');
      await root.query('SET GLOBAL read_only = 1');
    } finally {
      await root.end();
    }
    await onMaster('INSERT INTO w.t (id) VALUES (77)');
    await eventually(() => m.client.call('get_node_info', { serviceNodeId: 'node-2' }), (r) => (r.serviceNode.diagnosis ?? '').includes('SQL error 1062'), 20_000);
    const before = (await messages()).length;
    let refusal: unknown = null;
    try {
      await m.client.call('set_up_replica_master', { serviceNodeId: 'node-2' });
    } catch (err) {
      refusal = err;
    }
    expect(isAppError(refusal) && refusal.code).toBe('WRONG_STATE');
    expect((refusal as Error).message).toMatch(/^set_up_replica_master: refused before any write was blocked: node-2's replication stopped on SQL error 1062: .*Duplicate entry '77'/);
    const after = await messages();
    expect(after.slice(before).some((e) => e.startsWith('switchover'))).toBe(false);
    expect((await m.agent(nodeOf(await m.info(), 'node-1'), 2000).call('get_status', {})).readOnly).toBe(false);
    // Then the manager replaces it by a fresh copy of the master.
    const replaced = await eventually(() => m.info(), (i) => !i.nodes.some((n) => n.id === 'node-2') && i.nodes.filter((n) => n.status === 'ready').length === 3 && i.operation === null, 120_000);
    expect(replaced.events.map((e) => e.message).some((e) => /^node-2's replication is broken: SQL error 1062: replacing it with a fresh copy of node-1$/.test(e))).toBe(true);
    const fresh = replaced.nodes.find((n) => n.role === 'replica' && n.id !== 'node-3')!;
    expect(await eventually(() => rowsOn(replaced, fresh.id), (c) => c === 7, 20_000)).toBe(7);
  });
});
