import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { masterOf } from '../../src/manager/core/model.js';
import { ManagerHarness } from '../fakes/manager-harness.js';

/**
 * The manager can die at any point: after any effect (an agent call that changes something, a
 * machine created or destroyed) of any operation, before it recorded what followed. A new
 * manager on the same store and the same machines must converge to the same end as a manager
 * that never died, with no orphan machine, every node where it should be, and no acknowledged
 * write lost.
 */

interface Scenario {
  name: string;
  /** The service before the operation (no crash there). */
  prepare(h: ManagerHarness): Promise<void>;
  /** Begins the operation (the API call, or the fault the loop reacts to). */
  begin(h: ManagerHarness): Promise<void>;
}

async function started(h: ManagerHarness, replicas = 2): Promise<void> {
  await h.call('startup', { slaves: replicas });
  await h.settle();
  h.cluster.write('node-1', 3);
}

const SCENARIOS: Scenario[] = [
  { name: 'startup', prepare: async () => undefined, begin: async (h) => void (await h.call('startup', { slaves: 2 })) },
  { name: 'add_nodes', prepare: (h) => started(h), begin: async (h) => void (await h.call('add_nodes', { slaves: 2 })) },
  { name: 'remove_nodes', prepare: (h) => started(h), begin: async (h) => void (await h.call('remove_nodes', { slaves: 1 })) },
  { name: 'switchover', prepare: (h) => started(h), begin: async (h) => void (await h.call('set_up_replica_master', { serviceNodeId: 'node-3' })) },
  {
    name: 'attach',
    prepare: async (h) => {
      await started(h);
      h.cluster.node('node-2').server!.replication = null;
    },
    begin: async (h) => void (await h.call('set_up_replica_slave', { serviceNodeId: 'node-2' })),
  },
  {
    name: 'failover',
    prepare: (h) => started(h),
    begin: async (h) => {
      h.cluster.crashServer('node-1');
      h.cluster.killAgent('node-1');
    },
  },
  {
    name: 'replacement of a vanished replica',
    prepare: (h) => started(h),
    begin: async (h) => h.cluster.vanish('node-3'),
  },
  { name: 'set_password', prepare: (h) => started(h), begin: async (h) => void h.store.updateService({ pendingPassword: 'n3w' }) },
  { name: 'shutdown', prepare: (h) => started(h), begin: async (h) => void (await h.call('shutdown', {})) },
];

/** What the end of an operation is: the service, the registry, the machines and the replication among them. */
function endState(h: ManagerHarness): unknown {
  const service = h.store.service()!;
  const nodes = h.store.nodes();
  const master = masterOf(nodes);
  return {
    state: service.state,
    error: service.error,
    desiredReplicas: service.desiredReplicas,
    // Generated passwords differ from run to run: what must hold is that the master has the one in force.
    password: service.password === 'n3w' ? 'n3w' : 'generated',
    pendingPassword: service.pendingPassword,
    operation: h.store.operation(),
    registry: nodes.map((n) => [n.id, n.role, n.status]),
    machines: h.cluster.all().map((n) => n.id).sort(),
    servers: h.cluster
      .all()
      .map((n) => [n.id, n.server?.state ?? 'none', n.server?.readOnly ?? null, n.server?.replication?.masterId ?? null, n.server?.replication?.ioRunning ?? null, n.server?.replication?.sqlRunning ?? null])
      .sort(),
    masterHasThePassword: master ? h.cluster.node(master.id).server?.passwords.get(service.user) === service.password : null,
  };
}

async function run(scenario: Scenario, crashAfter: number | null): Promise<{ h: ManagerHarness; effects: number }> {
  const h = new ManagerHarness();
  await scenario.prepare(h);
  const before = h.cluster.effectCount;
  h.cluster.crashAfter(crashAfter);
  await scenario.begin(h);
  const { idle } = await h.settle(400);
  expect(idle, `${scenario.name} never settled (crash after ${crashAfter})`).toBe(true);
  return { h, effects: h.cluster.effectCount - before };
}

describe('a manager killed at any point of any operation converges to the same end', () => {
  const clean = new Map<string, { end: unknown; effects: number }>();

  it.each(SCENARIOS.map((s) => [s.name, s] as const))('%s runs to its end without a crash (the reference)', async (_n, s) => {
    const { h, effects } = await run(s, null);
    expect(effects).toBeGreaterThan(0);
    expect(h.restarts).toBe(0);
    clean.set(s.name, { end: endState(h), effects });
  });

  it('converges from every crash point: same end, no orphan, no acknowledged write lost', async () => {
    const numRuns = Number(process.env['CPS_MYSQL_CRASH_RUNS'] ?? 240);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SCENARIOS), fc.nat(), async (scenario, pick) => {
        const reference = clean.get(scenario.name)!;
        const k = 1 + (pick % reference.effects);
        const { h } = await run(scenario, k);
        expect(h.restarts, `${scenario.name}: the crash after effect ${k} happened`).toBe(1);
        expect(endState(h), `${scenario.name}, manager killed after effect ${k} of ${reference.effects}`).toEqual(reference.end);
        // No orphan: the cloud holds exactly the registry's machines.
        expect(h.cluster.all().map((n) => n.id).sort()).toEqual(h.store.nodes().map((n) => n.id).sort());
        // No acknowledged write lost: the master holds them all.
        const master = masterOf(h.store.nodes());
        if (master) {
          const s = h.cluster.node(master.id).server!;
          for (const g of h.cluster.acknowledged) expect(s.currentPos.some((p) => p.domain === g.domain && p.seq >= g.seq)).toBe(true);
        }
      }),
      { numRuns, seed: 20_261_129 },
    );
  });
});
