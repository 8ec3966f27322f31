import { describe, expect, it } from 'vitest';
import { decide } from '../../src/manager/core/decide.js';
import { describeReplica, diagnoseReplica, errantGtids, promotable, servesReads } from '../../src/manager/core/replicas.js';
import { REPLACE_AFTER_CHECKS, type NodeView, type Step } from '../../src/manager/core/model.js';
import { node, snapshot, type NodeOverrides } from '../helpers/snapshots.js';

/** Every replica is watched: one named diagnosis per kind of trouble, and the repair that follows. */
interface Case {
  name: string;
  replica: NodeOverrides;
  diagnosis: string;
  said: string;
  reads: boolean;
  promotable: boolean;
  step: Step | null;
}

const r = (over: NodeOverrides): NodeView => node('node-2', 'replica', over);

const CASES: Case[] = [
  { name: 'healthy', replica: {}, diagnosis: 'ReplicaHealthy', said: 'node-2 replicates', reads: true, promotable: true, step: null },
  {
    name: 'agent silent',
    replica: { reachable: false, mysqlRunning: false },
    diagnosis: 'ReplicaUnreachable',
    said: 'node-2 does not answer',
    reads: false,
    promotable: false,
    step: null,
  },
  {
    name: 'server down, agent alive: restarted read-only',
    replica: { mysqlRunning: false },
    diagnosis: 'ReplicaServerDown',
    said: "node-2's mariadbd is down",
    reads: false,
    promotable: false,
    step: { kind: 'repair_replica', id: 'node-2', masterId: 'node-1', how: 'restart_server' },
  },
  {
    name: 'server down after three restarts: replaced',
    replica: { mysqlRunning: false, repairs: 3 },
    diagnosis: 'ReplicaServerDown',
    said: "node-2's mariadbd is down",
    reads: false,
    promotable: false,
    step: { kind: 'replace_replica', id: 'node-2' },
  },
  {
    name: 'server runs but stays silent (frozen): stopped and started again',
    replica: { mysqlRunning: false, mysqlSilent: true },
    diagnosis: 'ReplicaServerSilent',
    said: "node-2's mariadbd runs but does not answer",
    reads: false,
    promotable: false,
    step: { kind: 'repair_replica', id: 'node-2', masterId: 'node-1', how: 'stop_and_restart_server' },
  },
  {
    name: 'server silent after three restarts: replaced',
    replica: { mysqlRunning: false, mysqlSilent: true, repairs: 3 },
    diagnosis: 'ReplicaServerSilent',
    said: "node-2's mariadbd runs but does not answer",
    reads: false,
    promotable: false,
    step: { kind: 'replace_replica', id: 'node-2' },
  },
  {
    name: 'SQL thread stopped by hand: re-pointed',
    replica: { sqlRunning: 'No' },
    diagnosis: 'ReplicaNotReplicating',
    said: 'node-2 does not replicate: its SQL thread is stopped',
    reads: false,
    promotable: true,
    step: { kind: 'repair_replica', id: 'node-2', masterId: 'node-1', how: 'repoint' },
  },
  {
    name: 'following another node: re-pointed',
    replica: { replicatingFrom: 'node-3' },
    diagnosis: 'ReplicaNotReplicating',
    said: 'node-2 does not replicate: it follows node-3, not node-1',
    reads: false,
    promotable: true,
    step: { kind: 'repair_replica', id: 'node-2', masterId: 'node-1', how: 'repoint' },
  },
  {
    name: 'IO error 2013 (lost connection) is transient: replication started again',
    replica: { ioRunning: 'No', ioErrno: 2013, replicationError: 'Lost connection' },
    diagnosis: 'ReplicationBroken',
    said: "node-2's replication is broken: IO error 2013 (transient)",
    reads: false,
    promotable: true,
    step: { kind: 'repair_replica', id: 'node-2', masterId: 'node-1', how: 'restart_replication' },
  },
  {
    name: 'SQL error 1062 (duplicate key): its data parted from the master: replaced',
    replica: { sqlRunning: 'No', sqlErrno: 1062, replicationError: 'Duplicate entry' },
    diagnosis: 'ReplicationBroken',
    said: "node-2's replication is broken: SQL error 1062",
    reads: false,
    promotable: false,
    step: { kind: 'replace_replica', id: 'node-2' },
  },
  {
    name: 'IO error 1236 (a position the master does not have): replaced',
    replica: { ioRunning: 'No', ioErrno: 1236, replicationError: 'Got fatal error 1236' },
    diagnosis: 'ReplicationBroken',
    said: "node-2's replication is broken: IO error 1236",
    reads: false,
    promotable: true,
    step: { kind: 'replace_replica', id: 'node-2' },
  },
  {
    name: 'errant GTIDs (written on it directly): replaced',
    replica: { gtidBinlog: '0-2-11', gtidSlave: '0-1-10' },
    diagnosis: 'ReplicaErrant',
    said: 'node-2 holds errant transactions (0-2-11) its master never had',
    reads: false,
    promotable: false,
    step: { kind: 'replace_replica', id: 'node-2' },
  },
  {
    name: 'lagging past the read limit: no reads, no repair, noted',
    replica: { lagSeconds: 30 },
    diagnosis: 'ReplicaLagging',
    said: 'node-2 lags 30 s behind',
    reads: false,
    promotable: true,
    step: null,
  },
];

describe('replica diagnoses, one named case each, and their repairs', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const n = r(c.replica);
    const d = diagnoseReplica(n, 'node-1');
    expect(d.name).toBe(c.diagnosis);
    expect(describeReplica('node-2', d)).toBe(c.said);
    expect(servesReads(d)).toBe(c.reads);
    expect(promotable(n)).toBe(c.promotable);
    // A replacement waits until the trouble lasted REPLACE_AFTER_CHECKS checks; cheaper repairs do not.
    const lasting = { ...n, troubleChecks: REPLACE_AFTER_CHECKS };
    expect(decide(snapshot({ nodes: [node('node-1', 'master'), lasting, node('node-3', 'replica')] })).step).toEqual(c.step);
    if (c.step?.kind === 'replace_replica') {
      const fresh = decide(snapshot({ nodes: [node('node-1', 'master'), { ...n, troubleChecks: 1 }, node('node-3', 'replica')] }));
      expect(fresh.step).toBeNull();
      expect(fresh.reason).toContain(c.said);
      expect(fresh.reason).toContain(`: it will be replaced by a fresh copy of node-1 unless it recovers (check 1 of ${REPLACE_AFTER_CHECKS})`);
    }
  });

  it('a silent server is left alone at first: a busy or recovering server answers again by itself, and restarting it would start its recovery over', () => {
    for (let checks = 1; checks < REPLACE_AFTER_CHECKS; checks++) {
      const silent = r({ mysqlRunning: false, mysqlSilent: true, troubleChecks: checks });
      const d = decide(snapshot({ nodes: [node('node-1', 'master'), silent, node('node-3', 'replica')] }));
      expect(d.step).toBeNull();
      expect(d.reason).toContain(`node-2's mariadbd runs but does not answer: it takes no reads; it is restarted if it stays silent (check ${checks} of ${REPLACE_AFTER_CHECKS})`);
    }
  });

  it('each further restart of a silent server waits as many checks again', () => {
    const decideFor = (over: NodeOverrides) => decide(snapshot({ nodes: [node('node-1', 'master'), r({ mysqlRunning: false, mysqlSilent: true, ...over }), node('node-3', 'replica')] }));
    expect(decideFor({ repairs: 1, troubleChecks: REPLACE_AFTER_CHECKS }).step).toBeNull();
    expect(decideFor({ repairs: 1, troubleChecks: 2 * REPLACE_AFTER_CHECKS - 1 }).step).toBeNull();
    expect(decideFor({ repairs: 1, troubleChecks: 2 * REPLACE_AFTER_CHECKS }).step).toEqual({ kind: 'repair_replica', id: 'node-2', masterId: 'node-1', how: 'stop_and_restart_server' });
    expect(decideFor({ repairs: 2, troubleChecks: 2 * REPLACE_AFTER_CHECKS }).step).toBeNull();
  });

  it('a replica healthy again after a repair has its repair count cleared', () => {
    const d = decide(snapshot({ nodes: [node('node-1', 'master'), r({ repairs: 2 }), node('node-3', 'replica')] }));
    expect(d).toMatchObject({ reason: 'node-2 is healthy again', step: { kind: 'mark_healthy', id: 'node-2' } });
  });

  it('a former master re-attached at its old position is not errant: its own GTIDs end before its gtid_slave_pos', () => {
    expect(errantGtids(r({ gtidBinlog: '0-2-10', gtidSlave: '0-2-10' }))).toEqual([]);
    expect(errantGtids(r({ gtidBinlog: '0-1-12,1-2-3', gtidSlave: '0-1-12' }))).toEqual([{ domain: 1, server: 2, seq: 3 }]);
  });
});
