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
  trouble(h: ManagerHarness): void | Promise<void>;
  /** The master once the manager settled (null: none). */
  master: string | null;
  /** A decision the manager must have taken or stated, if any. */
  says?: string;
  /** A decision it must never take. */
  never?: RegExp;
  /** What else must hold once it settled. */
  check?(h: ManagerHarness): void | Promise<void>;
}

/** The registry's replicas, by id, and whom each follows. */
function replicasOf(h: ManagerHarness): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const n of h.store.nodes().filter((x) => x.role === 'replica')) out[n.id] = h.cluster.has(n.id) ? (h.cluster.node(n.id).server?.replication?.masterId ?? null) : null;
  return out;
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
    says: 'failover: choosing node-3, which holds the most (GTID 0-1-9)',
  },
  {
    name: 'case 1: an errant replica stopped on an out-of-order GTID does not block the failover: the healthy one is promoted, the errant one replaced',
    trouble: (h) => {
      h.cluster.errant('node-2');
      h.cluster.write('node-1', 3);
      h.cluster.crashServer('node-1');
      h.cluster.killAgent('node-1');
    },
    master: 'node-3',
    says: 'failover: choosing node-3, which holds the most (GTID 0-1-6); not node-2 holds errant transactions (0-2-4) its master never had',
    never: /did not apply/,
    check: async (h) => {
      // node-1's agent never comes back: past the grace, a fresh replica takes its place.
      for (let i = 0; i < 40; i++) await h.round();
      await h.settle();
      expect(replicasOf(h)).toEqual({ 'node-1': null, 'node-4': 'node-3', 'node-5': 'node-3' });
      expect(h.store.events(200).map((e) => e.message)).toContain('node-2 holds errant transactions (0-2-4) its master never had: replacing it with a fresh copy of node-3');
    },
  },
  {
    name: 'an errant replica is diagnosed and replaced while the master is alive, before it matters',
    trouble: (h) => void h.cluster.errant('node-2'),
    master: 'node-1',
    says: 'node-2 holds errant transactions (0-2-4) its master never had: replacing it with a fresh copy of node-1',
    check: (h) => expect(replicasOf(h)).toEqual({ 'node-3': 'node-1', 'node-4': 'node-1' }),
  },
  {
    name: "case 3: a replica's server killed (its agent alive) is restarted, read-only, and catches up",
    trouble: (h) => {
      h.cluster.crashServer('node-2');
      h.cluster.write('node-1', 2);
    },
    master: 'node-1',
    says: "node-2's mariadbd is down: restarting it, read-only",
    check: (h) => {
      const s = h.cluster.node('node-2').server!;
      expect(s.readOnly).toBe(true);
      expect(s.compare(h.cluster.node('node-1').server!.currentPos)).toBe('equal');
      expect(h.decisions).toContain('node-2 is healthy again');
    },
  },
  {
    name: 'a replica whose SQL thread was stopped by hand is re-pointed and catches up',
    trouble: (h) => {
      h.cluster.node('node-3').server!.replication!.sqlRunning = 'No';
      h.cluster.write('node-1', 2);
    },
    master: 'node-1',
    says: 'node-3 does not replicate: its SQL thread is stopped: re-pointing it to node-1',
    check: (h) => expect(h.cluster.node('node-3').server!.compare(h.cluster.node('node-1').server!.currentPos)).toBe('equal'),
  },
  {
    name: 'a replica whose IO thread was stopped by hand is re-pointed and catches up',
    trouble: (h) => {
      h.cluster.node('node-3').server!.replication!.ioRunning = 'No';
      h.cluster.write('node-1', 2);
    },
    master: 'node-1',
    says: 'node-3 does not replicate: its IO thread is stopped: re-pointing it to node-1',
    check: (h) => expect(h.cluster.node('node-3').server!.compare(h.cluster.node('node-1').server!.currentPos)).toBe('equal'),
  },
  {
    name: 'a transient replication error (lost connection) is retried in place',
    trouble: (h) => {
      const r = h.cluster.node('node-2').server!.replication!;
      Object.assign(r, { ioRunning: 'No', lastIoErrno: 2013, lastIoError: 'Lost connection to server during query' });
    },
    master: 'node-1',
    says: "node-2's replication is broken: IO error 2013 (transient): starting it again",
    check: (h) => expect(replicasOf(h)).toEqual({ 'node-2': 'node-1', 'node-3': 'node-1' }),
  },
  {
    name: 'a replica stopped on a duplicate key (1062) cannot follow: it is replaced by a fresh copy',
    trouble: (h) => {
      h.cluster.node('node-2').server!.failNextApply = { errno: 1062, message: "Duplicate entry '7' for key 'PRIMARY'" };
      h.cluster.write('node-1', 1);
    },
    master: 'node-1',
    says: "node-2's replication is broken: SQL error 1062: replacing it with a fresh copy of node-1",
    check: (h) => expect(replicasOf(h)).toEqual({ 'node-3': 'node-1', 'node-4': 'node-1' }),
  },
  {
    name: 'case 4: a frozen master (SIGSTOP) is failed over at once on its agent\'s word, and killed so it never takes a write again',
    trouble: (h) => h.cluster.freezeServer('node-1'),
    master: 'node-2',
    says: "master node-1's mariadbd does not answer its agent (node-2 and node-3 answer): failing over",
    check: (h) => {
      const s = h.cluster.node('node-1').server!;
      // Killed by the fence, restarted read-only, re-attached to the new master.
      expect(s.frozen).toBe(false);
      expect(s.readOnly).toBe(true);
      expect(s.write()).toBeNull();
      expect(replicasOf(h)).toEqual({ 'node-1': 'node-2', 'node-3': 'node-2' });
    },
  },
  {
    name: 'a lagging candidate (received the most, applied the least) is chosen, drains, and loses nothing',
    trouble: (h) => {
      h.cluster.node('node-3').server!.lagging = true;
      h.cluster.node('node-2').server!.replication!.ioRunning = 'No';
      h.cluster.write('node-1', 4);
      h.cluster.node('node-3').server!.lagging = false;
      h.cluster.crashServer('node-1');
      h.cluster.killAgent('node-1');
    },
    master: 'node-3',
    says: 'failover: choosing node-3, which holds the most (GTID 0-1-7)',
  },
  {
    name: 'a replica that lost its relay log is not taken for the most advanced: the failover refuses to lose acknowledged writes',
    trouble: async (h) => {
      h.cluster.node('node-2').server!.replication!.ioRunning = 'No';
      h.cluster.node('node-3').server!.lagging = true;
      h.cluster.write('node-1', 4);
      await h.observer.snapshot(); // the manager sees what node-3 received (and decides nothing yet)
      h.cluster.crashServer('node-1');
      h.cluster.killAgent('node-1');
      h.cluster.node('node-3').server!.lagging = false;
      h.cluster.loseRelayLog('node-3');
    },
    master: null,
    says: 'failover refused: node-2, the most advanced replica that can be promoted, holds 0-1-3 but transactions up to 0-1-7 were acknowledged',
    check: async (h) => {
      expect(h.store.service()!.state).toBe('ERROR');
      expect(h.store.service()!.error).toMatch(/`failover node-2 --force` to promote it and accept the loss/);
      expect(h.loop.refusals).toEqual({ would_lose_transactions: 1 });
      // The lost master comes back with everything: it is the master again, nothing lost.
      h.cluster.startAgent('node-1');
      h.cluster.node('node-1').server!.state = 'stopped';
      await h.settle();
      expect(masterOf(h.store.nodes())?.id).toBe('node-1');
      expect(h.store.service()!.state).toBe('RUNNING');
      for (const g of h.cluster.acknowledged) expect(h.cluster.node('node-1').server!.currentPos.some((p) => p.seq >= g.seq)).toBe(true);
    },
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
    // Every look refuses, for the same reason: one run, counted once.
    check: (h) => expect(h.loop.refusals).toEqual({ disabled: 1 }),
  },
];

describe('failover scenarios over the fake cluster', () => {
  it.each(SCENARIOS.map((s) => [s.name, s] as const))('%s', async (_n, s) => {
    const h = new ManagerHarness();
    await h.call('startup', { slaves: 2 });
    await h.settle();
    h.cluster.write('node-1', 3);
    await s.trouble(h);
    await h.settle();
    const said = [...h.decisions, ...h.store.events(200).map((e) => e.message)];
    expect(masterOf(h.store.nodes())?.id ?? null).toBe(s.master);
    if (s.says) expect(said).toContain(s.says);
    if (s.never) expect(said.some((d) => s.never!.test(d))).toBe(false);
    const m = masterOf(h.store.nodes());
    if (m && h.cluster.node(m.id).server?.state === 'running') {
      const pos = h.cluster.node(m.id).server!.currentPos;
      for (const g of h.cluster.acknowledged) expect(pos.some((p) => p.domain === g.domain && p.seq >= g.seq)).toBe(true);
    }
    await s.check?.(h);
  });
});
