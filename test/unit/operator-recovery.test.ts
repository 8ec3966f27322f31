import { describe, expect, it } from 'vitest';
import { masterOf } from '../../src/manager/core/model.js';
import { isAppError } from '../../src/util/errors.js';
import { ManagerHarness } from '../fakes/manager-harness.js';

/**
 * What an operator can do when things are not clean, through the real API over the fake
 * cluster: switchovers refused before writes are blocked or bounded when they are, ways out of
 * ERROR (a named or forced failover, retry, re-attach), and read endpoints that only list
 * replicas that can serve.
 */

async function healthy(): Promise<ManagerHarness> {
  const h = new ManagerHarness();
  await h.call('startup', { slaves: 2 });
  await h.settle();
  h.cluster.write('node-1', 3);
  await h.settle();
  return h;
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isAppError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('the call was accepted');
}

const readsOf = (h: ManagerHarness, id: string): string => {
  const n = h.store.node(id)!;
  return `${n.host}:${n.mysqlPort}`;
};

describe('planned switchovers check before they block writes', () => {
  it('case 2: a switchover to a replica stopped on a duplicate key is refused up front, naming the error; the master never went read-only', async () => {
    const h = await healthy();
    h.cluster.node('node-2').server!.failNextApply = { errno: 1062, message: "Duplicate entry '7' for key 'PRIMARY'" };
    h.cluster.write('node-1', 1);
    // The manager sees it (and would replace it on its own); the operator asks first.
    await h.observer.snapshot();
    const r = await refusal(h.call('set_up_replica_master', { serviceNodeId: 'node-2' }));
    expect(r.code).toBe('WRONG_STATE');
    expect(r.message).toMatch(/^set_up_replica_master: refused before any write was blocked: node-2's replication stopped on SQL error 1062: .*Duplicate entry '7'/);
    expect(h.cluster.node('node-1').calls).not.toContain('set_read_only');
    expect(h.store.operation()).toBeNull();
  });

  it('a switchover to a replica too far behind is refused, unless the caller allows that lag', async () => {
    const h = await healthy();
    h.cluster.node('node-2').server!.reportedLag = 12;
    await h.observer.snapshot();
    const r = await refusal(h.call('set_up_replica_master', { serviceNodeId: 'node-2' }));
    expect(r.message).toBe('set_up_replica_master: refused before any write was blocked: node-2 is 12 s behind (the limit is 5 s)');
    h.cluster.node('node-2').server!.reportedLag = null;
    await h.call('set_up_replica_master', { serviceNodeId: 'node-2', maxLagSeconds: 20 });
    await h.settle();
    expect(masterOf(h.store.nodes())?.id).toBe('node-2');
  });

  it('a candidate that cannot catch up within the switchover timeout: writes resume on the old master at once, the reason in the events, no retry while writes are blocked', async () => {
    const h = await healthy();
    const s2 = h.cluster.node('node-2').server!;
    await h.call('set_up_replica_master', { serviceNodeId: 'node-2' });
    // It looks close behind, and then applies nothing.
    s2.lagging = true;
    s2.reportedLag = 0;
    h.cluster.write('node-1', 2);
    const rounds = [];
    for (let i = 0; i < 8 && h.store.operation() !== null; i++) rounds.push(await h.round());
    const failed = rounds.filter((r) => r?.failed);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.retry).toBe(false);
    expect(h.store.operation()).toBeNull();
    expect(masterOf(h.store.nodes())?.id).toBe('node-1');
    expect(h.cluster.node('node-1').server!.readOnly).toBe(false);
    const events = h.store.events(50).map((e) => e.message);
    expect(events.filter((e) => e.startsWith('switchover: waiting for node-2'))).toHaveLength(1);
    expect(events).toContain('switchover abandoned: writes resume on node-1');
    expect(h.store.service()!.error).toMatch(/node-2 did not apply .* within 5 s/);
  });
});

describe('ERROR is never a trap', () => {
  /** A service in ERROR after a failover refused to lose acknowledged writes (node-3 lost its relay log). */
  async function refusedFailover(): Promise<ManagerHarness> {
    const h = await healthy();
    h.cluster.node('node-2').server!.replication!.ioRunning = 'No';
    h.cluster.node('node-3').server!.lagging = true;
    h.cluster.write('node-1', 4);
    await h.observer.snapshot();
    h.cluster.crashServer('node-1');
    h.cluster.killAgent('node-1');
    h.cluster.node('node-3').server!.lagging = false;
    h.cluster.loseRelayLog('node-3');
    await h.settle();
    expect(h.store.service()!.state).toBe('ERROR');
    expect(masterOf(h.store.nodes())).toBeUndefined();
    return h;
  }

  it('failover --force promotes the replica holding the most and says what it gave up', async () => {
    const h = await refusedFailover();
    await h.call('failover', { force: true });
    await h.settle();
    expect(masterOf(h.store.nodes())?.id).toBe('node-2');
    expect(h.store.service()!.state).toBe('RUNNING');
    const events = h.store.events(80).map((e) => e.message);
    expect(events).toContain('failover ordered by an operator from node-1, accepting a loss of acknowledged transactions if it must');
    expect(events.some((e) => /^promoted node-2: .*; 4 transactions \(from 0-1-3 to 0-1-7\) given up \(forced\)$/.test(e))).toBe(true);
  });

  it('a named failover without force is refused again with the same reason; retry does the same; neither loses anything', async () => {
    const h = await refusedFailover();
    await h.call('failover', { serviceNodeId: 'node-3' });
    await h.settle();
    expect(h.store.service()!.error).toMatch(/^failover from node-1 refused: promoting node-3 would lose [0-9]+ transactions/);
    const r = await h.call('retry', {});
    expect(r).toEqual({ state: 'ADAPTING', kind: 'failover' });
    await h.settle();
    expect(h.store.service()!.state).toBe('ERROR');
    expect(masterOf(h.store.nodes())).toBeUndefined();
  });

  it('retry with nothing abandoned is refused, naming why', async () => {
    const h = await healthy();
    const r = await refusal(h.call('retry', {}));
    expect(r).toEqual({ code: 'WRONG_STATE', message: 'retry: nothing to retry: the last operation (startup) succeeded' });
  });

  it('failover names a node that is not a ready replica: refused with the node and its state', async () => {
    const h = await healthy();
    expect(await refusal(h.call('failover', { serviceNodeId: 'node-1' }))).toEqual({ code: 'INVALID_PARAMS', message: 'failover: node-1 is not a ready replica (it is the master)' });
    expect(await refusal(h.call('failover', { serviceNodeId: 'node-9' }))).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('read endpoints', () => {
  it('a replica that cannot serve is not advertised for reads, and is again once repaired', async () => {
    const h = await healthy();
    expect([...(await h.call('get_service_info', {})).slaves].sort()).toEqual([readsOf(h, 'node-2'), readsOf(h, 'node-3')].sort());
    h.cluster.crashServer('node-2');
    await h.observer.snapshot();
    const info = await h.call('get_service_info', {});
    expect(info.slaves).toEqual([readsOf(h, 'node-3')]);
    expect(info.nodes.find((n) => n.id === 'node-2')).toMatchObject({ diagnosis: "node-2's mariadbd is down", servesReads: false });
    expect((await h.call('get_node_info', { serviceNodeId: 'node-3' })).serviceNode).toMatchObject({ diagnosis: 'node-3 replicates', servesReads: true });
    await h.settle();
    expect([...(await h.call('get_service_info', {})).slaves].sort()).toEqual([readsOf(h, 'node-2'), readsOf(h, 'node-3')].sort());
  });
});
