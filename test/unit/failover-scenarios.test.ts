import { describe, expect, it } from 'vitest';
import { masterOf } from '../../src/manager/core/model.js';
import { ManagerHarness } from '../fakes/manager-harness.js';

/**
 * Failover scenarios as named cases over the fake cluster, through the real loop: what happens
 * to the master, what the manager says, and that no acknowledged write is lost.
 */

interface Scenario {
  name: string;
  /** The trouble, after a healthy startup with two replicas and some writes. */
  trouble(h: ManagerHarness): void;
  /** The master once the manager settled (null: none). */
  master: string | null;
  /** A decision the manager must have taken or stated, if any. */
  says?: string;
  /** A decision it must never take. */
  never?: RegExp;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'a killed master (server and agent): the most advanced replica is promoted',
    trouble: (h) => {
      h.cluster.crashServer('node-1');
      h.cluster.killAgent('node-1');
    },
    master: 'node-2',
    says: 'master node-1 unreachable from manager and replicas (node-2 and node-3 lost it): failing over',
  },
  {
    name: 'a master whose server died while its agent lives: failover, then its server comes back read-only and rejoins',
    trouble: (h) => h.cluster.crashServer('node-1'),
    master: 'node-2',
    says: 'node-1 (former master) is down: restarting its mariadbd, read-only',
  },
  {
    name: 'only the agent of the master died: its server still greets and replicas still stream, no failover',
    trouble: (h) => h.cluster.killAgent('node-1'),
    master: 'node-1',
    never: /failing over/,
  },
  {
    name: 'the master ahead of one replica: the replica that has more is the one promoted',
    trouble: (h) => {
      h.cluster.node('node-2').server!.lagging = true;
      h.cluster.write('node-1', 4);
      h.cluster.node('node-2').server!.lagging = false;
      h.cluster.node('node-2').server!.replication!.ioRunning = 'No';
      h.cluster.write('node-1', 2);
      h.cluster.crashServer('node-1');
      h.cluster.killAgent('node-1');
    },
    master: 'node-3',
    says: 'failover: promoting node-3, the most advanced (GTID 0-1-9) of node-2 and node-3',
  },
  {
    name: 'automatic failover switched off: the dead master is reported, nothing promoted',
    trouble: (h) => {
      h.store.updateService({ failoverEnabled: false });
      h.cluster.crashServer('node-1');
      h.cluster.killAgent('node-1');
    },
    master: 'node-1',
    never: /failing over/,
  },
];

describe('failover scenarios over the fake cluster', () => {
  it.each(SCENARIOS.map((s) => [s.name, s] as const))('%s', async (_n, s) => {
    const h = new ManagerHarness();
    await h.call('startup', { slaves: 2 });
    await h.settle();
    h.cluster.write('node-1', 3);
    s.trouble(h);
    await h.settle();
    const said = [...h.decisions, ...h.store.events(100).map((e) => e.message)];
    expect(masterOf(h.store.nodes())?.id ?? null).toBe(s.master);
    if (s.says) expect(said).toContain(s.says);
    if (s.never) expect(said.some((d) => s.never!.test(d))).toBe(false);
    const m = masterOf(h.store.nodes());
    if (m && h.cluster.node(m.id).server?.state === 'running') {
      const pos = h.cluster.node(m.id).server!.currentPos;
      for (const g of h.cluster.acknowledged) expect(pos.some((p) => p.domain === g.domain && p.seq >= g.seq)).toBe(true);
    }
  });
});
