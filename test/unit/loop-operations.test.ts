import { describe, expect, it, vi } from 'vitest';
import { ManagerHarness } from '../fakes/manager-harness.js';
import type { FakeCluster } from '../fakes/fake-cluster.js';

/**
 * Every operation from start to end, through the real loop (observe → decide → execute) over
 * the stateful fakes: no mariadbd, milliseconds each.
 */

async function running(replicas = 2): Promise<ManagerHarness> {
  const h = new ManagerHarness();
  await h.call('startup', { slaves: replicas });
  expect((await h.settle()).idle).toBe(true);
  return h;
}

/** Every acknowledged write is on `id`. */
function holdsEveryAck(cluster: FakeCluster, id: string): boolean {
  const s = cluster.node(id).server!;
  return cluster.acknowledged.every((g) => s.currentPos.some((p) => p.domain === g.domain && p.seq >= g.seq));
}

describe('the loop over fakes: each operation from start to end', () => {
  it('startup: a master and two replicas that follow it', async () => {
    const h = await running();
    expect(h.store.service()).toMatchObject({ state: 'RUNNING', desiredReplicas: 2, nextSeq: 4 });
    expect(h.store.nodes().map((n) => [n.id, n.role, n.status])).toEqual([
      ['node-1', 'master', 'ready'],
      ['node-2', 'replica', 'ready'],
      ['node-3', 'replica', 'ready'],
    ]);
    expect(h.cluster.write('node-1', 5)).toBe(5);
    h.cluster.settle();
    for (const id of ['node-2', 'node-3']) expect(holdsEveryAck(h.cluster, id)).toBe(true);
    expect(h.decisions).toEqual([
      'startup: registering node-1, node-2 and node-3 (master node-1)',
      'startup: creating node-1, node-2 and node-3, each starting its new server once it answers',
      'startup: starting node-1 as the master, and node-2 and node-3 as new servers beside it',
      'startup: starting node-2 and node-3 as new servers replicating node-1 from its first transaction (no snapshot of a new master)',
      'startup complete: master node-1, replicas node-2 and node-3',
    ]);
    // Every node's accounts were put in place as the manager knows them.
    for (const n of h.cluster.all()) expect(n.server!.passwords.get('mysqldb')).toBe(h.store.service()!.password);
  });

  it("startup: each node's new server is made once its own machine answers, not after the slowest machine", async () => {
    const h = new ManagerHarness();
    const release = h.cluster.cloud.holdCreate('node-3');
    await h.call('startup', { slaves: 2 });
    const settled = h.settle();
    // node-3's machine is still starting: the two others already run their servers.
    await vi.waitFor(() => {
      for (const id of ['node-1', 'node-2']) expect(h.cluster.node(id).server).not.toBeNull();
    });
    expect(h.cluster.has('node-3')).toBe(false);
    expect(h.store.service()!.state).toBe('PROLOGUE');
    release();
    expect((await settled).idle).toBe(true);
    expect(h.store.nodes().map((n) => [n.id, n.status])).toEqual([
      ['node-1', 'ready'],
      ['node-2', 'ready'],
      ['node-3', 'ready'],
    ]);
    // Made once, found running by the later steps, which then configure it.
    expect(h.cluster.node('node-1').calls.filter((c) => c === 'init_server' || c === 'configure_master')).toEqual(['init_server', 'init_server', 'configure_master']);
    expect(h.cluster.node('node-3').calls.filter((c) => c === 'init_server').length).toBeGreaterThanOrEqual(2);
  });

  it('add_nodes: a replica provisioned from the master while it takes writes; the source lets go of the grant', async () => {
    const h = await running(1);
    h.cluster.write('node-1', 3);
    await h.call('add_nodes', { slaves: 1 });
    expect((await h.settle()).idle).toBe(true);
    expect(h.store.nodes().filter((n) => n.role === 'replica' && n.status === 'ready').map((n) => n.id)).toEqual(['node-2', 'node-3']);
    h.cluster.settle();
    expect(holdsEveryAck(h.cluster, 'node-3')).toBe(true);
    expect(h.cluster.node('node-1').grants.size).toBe(0);
  });

  it('remove_nodes: the newest replica is destroyed, the service shrinks', async () => {
    const h = await running();
    await h.call('remove_nodes', { slaves: 1 });
    expect((await h.settle()).idle).toBe(true);
    expect(h.store.nodes().map((n) => n.id)).toEqual(['node-1', 'node-2']);
    expect(h.cluster.has('node-3')).toBe(false);
    expect(h.store.service()!.desiredReplicas).toBe(1);
  });

  it('switchover: the candidate is promoted with every write, the others follow it', async () => {
    const h = await running();
    h.cluster.write('node-1', 4);
    await h.call('set_up_replica_master', { serviceNodeId: 'node-3' });
    expect((await h.settle()).idle).toBe(true);
    expect(h.store.nodes().find((n) => n.role === 'master')!.id).toBe('node-3');
    expect(holdsEveryAck(h.cluster, 'node-3')).toBe(true);
    for (const id of ['node-1', 'node-2']) expect(h.cluster.node(id).server!.replication?.masterId).toBe('node-3');
    expect(h.cluster.node('node-1').server!.readOnly).toBe(true);
    expect(h.cluster.node('node-3').server!.readOnly).toBe(false);
    expect(h.cluster.write('node-3', 2)).toBe(2);
  });

  it('attach: a replica that lost its replication is pointed at the master again', async () => {
    const h = await running();
    h.cluster.node('node-2').server!.replication = null;
    await h.call('set_up_replica_slave', { serviceNodeId: 'node-2' });
    expect((await h.settle()).idle).toBe(true);
    expect(h.cluster.node('node-2').server!.replication?.masterId).toBe('node-1');
  });

  it('failover: a dead master is replaced by the most advanced replica; the old one comes back as a replica', async () => {
    const h = await running();
    h.cluster.write('node-1', 3);
    h.cluster.crashServer('node-1');
    h.cluster.killAgent('node-1');
    await h.settle();
    const master = h.store.nodes().find((n) => n.role === 'master' && n.status === 'ready');
    expect(master?.id).toBe('node-2');
    expect(holdsEveryAck(h.cluster, 'node-2')).toBe(true);
    const op = h.store.events(50).map((e) => e.message);
    expect(op).toContain('master node-1 unreachable from manager and replicas (node-2 and node-3 lost it): failing over');
    // An automatic failover blocks the next one (the decision said for how long).
    expect(Date.parse(h.store.service()!.failoverBlockedUntil!)).toBeGreaterThan(h.clock.now());
    // The old master's agent comes back; its server is restarted read-only and rejoins.
    h.cluster.startAgent('node-1');
    await h.settle();
    expect(h.store.node('node-1')).toMatchObject({ role: 'replica', status: 'ready' });
    expect(h.cluster.node('node-1').server!.readOnly).toBe(true);
  });

  it('set_password: the new password is set on the master through the loop, and replicas follow', async () => {
    const h = await running();
    h.store.updateService({ pendingPassword: 'n3w "pass"' });
    await h.settle();
    expect(h.store.service()).toMatchObject({ password: 'n3w "pass"', pendingPassword: null, state: 'RUNNING' });
    expect(h.cluster.node('node-1').server!.passwords.get('mysqldb')).toBe('n3w "pass"');
    expect(h.decisions).toContain('a new password for the service user is waiting: setting it');
  });

  it('set_password while another operation runs waits for it to end', async () => {
    const h = await running();
    await h.call('add_nodes', { slaves: 1 });
    h.store.updateService({ pendingPassword: 'later' });
    await h.settle();
    expect(h.store.service()).toMatchObject({ password: 'later', pendingPassword: null });
    const kinds = h.decisions.map((d) => d.split(':')[0]);
    expect(kinds.indexOf('a new password for the service user is waiting')).toBeGreaterThan(kinds.indexOf('add_nodes complete'));
  });

  it('shutdown: every node destroyed, STOPPED; startup again makes a new service with the same credentials', async () => {
    const h = await running();
    const password = h.store.service()!.password;
    await h.call('shutdown', {});
    expect((await h.settle()).idle).toBe(true);
    expect(h.store.service()).toMatchObject({ state: 'STOPPED' });
    expect(h.cluster.all()).toEqual([]);
    await h.call('startup', { slaves: 1 });
    expect((await h.settle()).idle).toBe(true);
    expect(h.store.service()).toMatchObject({ state: 'RUNNING', password });
  });

  it('list_nodes answers from memory: a vanished replica is listed until the next round drops it', async () => {
    const h = await running();
    h.cluster.vanish('node-3');
    expect(await h.call('list_nodes', {})).toEqual({ masters: ['node-1'], slaves: ['node-2', 'node-3'], serviceNode: ['node-1', 'node-2', 'node-3'] });
    await h.round();
    expect(await h.call('list_nodes', {})).toEqual({ masters: ['node-1'], slaves: ['node-2'], serviceNode: ['node-1', 'node-2'] });
    expect(h.store.events(10).map((e) => e.message)).toContain('node-3 vanished from the cloud: dropped from the registry');
  });
});
