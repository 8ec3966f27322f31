import { describe, expect, it } from 'vitest';
import { decide } from '../../src/manager/core/decide.js';
import { NOW, gtid, node, operation, snapshot } from '../helpers/snapshots.js';
import { diagnoseMaster } from '../../src/manager/core/diagnose.js';
import { compareGtid } from '../../src/protocol/gtid.js';
import type { NodeView, OperationView, Snapshot, Step } from '../../src/manager/core/model.js';




/** A master the manager cannot reach (agent and SQL), for `checks` rounds. */
const deadMaster = (checks = 2, over: Partial<NodeView> = {}): NodeView => node('node-1', 'master', { reachable: false, mysqlRunning: false, readOnly: null, failedChecks: checks, ...over });
/** A replica whose IO thread lost its master. */
const orphan = (id: string, gtid = '0-1-10'): NodeView => node(id, 'replica', { ioRunning: 'Connecting', replicationError: "error reconnecting to master 'repl@127.0.0.1:3307'", gtidApplied: gtid, gtidReceived: gtid });

interface Case {
  name: string;
  diagnosis?: string;
  snapshot: Snapshot;
  step: Step | null;
  reason: string | RegExp;
}

function runCases(cases: Case[]): void {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    if (c.diagnosis) expect(diagnoseMaster(c.snapshot).name).toBe(c.diagnosis);
    const d = decide(c.snapshot);
    expect(d.step).toEqual(c.step);
    if (typeof c.reason === 'string') expect(d.reason).toBe(c.reason);
    else expect(d.reason).toMatch(c.reason);
  });
}

describe('diagnoses of the master, one named case each', () => {
  runCases([
    {
      name: 'MasterHealthy: nothing to do',
      diagnosis: 'MasterHealthy',
      snapshot: snapshot({ nodes: [node('node-1', 'master'), node('node-2', 'replica'), node('node-3', 'replica')] }),
      step: null,
      reason: 'service RUNNING: master node-1, 2 replicas',
    },
    {
      name: 'MasterSuspect: one failed check is not enough',
      diagnosis: 'MasterSuspect',
      snapshot: snapshot({ nodes: [deadMaster(1), orphan('node-2'), orphan('node-3')] }),
      step: null,
      reason: 'master node-1 failed 1 of 2 checks: watching it',
    },
    {
      name: 'MasterUnreachableFromManager: a replica still streams from it, no failover',
      diagnosis: 'MasterUnreachableFromManager',
      snapshot: snapshot({ nodes: [deadMaster(5), node('node-2', 'replica'), orphan('node-3')] }),
      step: null,
      reason: 'failover refused: replicas still connected to node-1 (node-2); master node-1 unreachable from manager',
    },
    {
      name: 'DeadMaster: unreachable from the manager and every replica lost it: fail over',
      diagnosis: 'DeadMaster',
      snapshot: snapshot({ nodes: [deadMaster(), orphan('node-2'), orphan('node-3')] }),
      step: { kind: 'begin_failover', oldMasterId: 'node-1' },
      reason: 'master node-1 unreachable from manager and replicas (node-2 and node-3 lost it): failing over',
    },
    {
      name: 'DeadMaster whose node vanished from the cloud: fail over too',
      diagnosis: 'DeadMaster',
      snapshot: snapshot({ nodes: [deadMaster(2, { alive: false }), orphan('node-2'), orphan('node-3')] }),
      step: { kind: 'begin_failover', oldMasterId: 'node-1' },
      reason: /failing over$/,
    },
    {
      name: 'DeadMaster with an unreachable replica: the reachable ones decide',
      diagnosis: 'DeadMaster',
      snapshot: snapshot({ nodes: [deadMaster(), orphan('node-2'), node('node-3', 'replica', { reachable: false, mysqlRunning: false })] }),
      step: { kind: 'begin_failover', oldMasterId: 'node-1' },
      reason: 'master node-1 unreachable from manager and replicas (node-2 lost it): failing over',
    },
    {
      name: 'DeadMaster, automatic failover off: no action, and the way out is named',
      diagnosis: 'DeadMaster',
      snapshot: snapshot({ failover: { enabled: false, blockedUntil: null, checks: 2, blockSeconds: 300 }, nodes: [deadMaster(), orphan('node-2')] }),
      step: null,
      reason: 'master node-1 unreachable from manager and replicas (node-2 lost it): automatic failover is off; run a manual failover',
    },
    {
      name: 'DeadMaster within the anti-flapping block: refused until the block ends or is acknowledged',
      diagnosis: 'DeadMaster',
      snapshot: snapshot({ failover: { enabled: true, blockedUntil: NOW + 60_000, checks: 2, blockSeconds: 300 }, nodes: [deadMaster(), orphan('node-2')] }),
      step: null,
      reason: 'master node-1 unreachable from manager and replicas (node-2 lost it): failover refused: blocked until 2026-11-25T18:01:00.000Z after the last one; acknowledge_failover lifts the block',
    },
    {
      name: 'DeadMaster after the block expired: fail over',
      diagnosis: 'DeadMaster',
      snapshot: snapshot({ failover: { enabled: true, blockedUntil: NOW - 1, checks: 2, blockSeconds: 300 }, nodes: [deadMaster(), orphan('node-2')] }),
      step: { kind: 'begin_failover', oldMasterId: 'node-1' },
      reason: /failing over$/,
    },
    {
      name: 'DeadMasterNoReplica, agent answers: restart its mariadbd',
      diagnosis: 'DeadMasterNoReplica',
      snapshot: snapshot({ desiredReplicas: 0, nodes: [node('node-1', 'master', { mysqlRunning: false, failedChecks: 2 })] }),
      step: { kind: 'restart_master', id: 'node-1', recreate: false },
      reason: "master node-1's mariadbd is down and there is no replica to promote: restarting it",
    },
    {
      name: 'DeadMasterNoReplica, node gone: start its node again',
      diagnosis: 'DeadMasterNoReplica',
      snapshot: snapshot({ desiredReplicas: 0, nodes: [deadMaster(2, { alive: false })] }),
      step: { kind: 'restart_master', id: 'node-1', recreate: true },
      reason: 'master node-1 is gone and there is no replica to promote: restarting its node',
    },
    {
      name: 'DeadMasterNoReplica, listed but silent: wait for it',
      diagnosis: 'DeadMasterNoReplica',
      snapshot: snapshot({ desiredReplicas: 0, nodes: [deadMaster()] }),
      step: null,
      reason: 'master node-1 does not answer and there is no replica to promote: waiting for it',
    },
    {
      name: 'DeadMasterNoHealthyReplica: every node down at once is recorded as an outage, with the last position',
      diagnosis: 'DeadMasterNoHealthyReplica',
      snapshot: snapshot({ lastMasterPosition: gtid('0-1-12'), nodes: [deadMaster(), node('node-2', 'replica', { reachable: false, mysqlRunning: false })] }),
      step: { kind: 'record_outage', at: NOW },
      reason: "every node is down (master node-1; node-2): no node behind the last master's position (0-1-12) will be promoted on its own",
    },
    {
      name: 'DeadMasterNoHealthyReplica, outage recorded: nothing to promote',
      diagnosis: 'DeadMasterNoHealthyReplica',
      snapshot: snapshot({ outageSince: NOW - 5000, nodes: [deadMaster(), node('node-2', 'replica', { reachable: false, mysqlRunning: false })] }),
      step: null,
      reason: 'master node-1 is unreachable and no replica answers (node-2): nothing to promote',
    },
  ]);
});

function failover(phase: string | null, params: Record<string, unknown> = {}): OperationView {
  return operation('failover', { params: { oldMasterId: 'node-1', automatic: true, ...params }, phase });
}

describe('the failover operation, phase by phase', () => {
  const old = deadMaster(2, { status: 'failed' });
  runCases([
    {
      name: 'fence first: the replicas stop receiving from the old master',
      snapshot: snapshot({ state: 'ADAPTING', operation: failover(null), nodes: [deadMaster(), orphan('node-2'), orphan('node-3')] }),
      step: { kind: 'fence_replicas', oldMasterId: 'node-1', ids: ['node-2', 'node-3'], oldMasterAnswers: false },
      reason: 'failover: fencing node-1: node-2 and node-3 stop receiving from it',
    },
    {
      name: 'then the replica holding the most is chosen',
      snapshot: snapshot({ state: 'ADAPTING', operation: failover('fenced'), nodes: [old, orphan('node-2', '0-1-4710'), orphan('node-3', '0-1-4711')] }),
      step: { kind: 'choose_candidate', candidateId: 'node-3', lost: null },
      reason: 'failover: choosing node-3, which holds the most (GTID 0-1-4711)',
    },
    {
      name: 'equally advanced replicas: the one an operator named wins',
      snapshot: snapshot({ state: 'ADAPTING', operation: failover('fenced', { preferred: 'node-3' }), nodes: [old, orphan('node-2', '0-1-9'), orphan('node-3', '0-1-9')] }),
      step: { kind: 'choose_candidate', candidateId: 'node-3', lost: null },
      reason: /choosing node-3/,
    },
    {
      name: 'equally advanced replicas, none named: the lowest server id',
      snapshot: snapshot({ state: 'ADAPTING', operation: failover('fenced'), nodes: [old, orphan('node-3', '0-1-9'), orphan('node-2', '0-1-9')] }),
      step: { kind: 'choose_candidate', candidateId: 'node-2', lost: null },
      reason: /choosing node-2/,
    },
    {
      name: 'then only the candidate applies its relay log',
      snapshot: snapshot({ state: 'ADAPTING', operation: failover('chosen', { candidateId: 'node-3' }), nodes: [old, orphan('node-2'), orphan('node-3')] }),
      step: { kind: 'drain', ids: ['node-3'] },
      reason: 'failover: letting node-3 apply its relay log',
    },
    {
      name: 'a candidate that could not apply is given up for the next at once',
      snapshot: snapshot({ state: 'ADAPTING', lastError: 'node-3 did not apply its relay log (0-1-20) within 30 s', operation: operation('failover', { params: { oldMasterId: 'node-1', automatic: true, candidateId: 'node-3' }, phase: 'chosen', attempts: 1 }), nodes: [old, orphan('node-2'), orphan('node-3')] }),
      step: { kind: 'reject_candidate', id: 'node-3' },
      reason: 'failover: node-3 could not apply what it received (node-3 did not apply its relay log (0-1-20) within 30 s): choosing another',
    },
    {
      name: 'then the candidate is promoted at the position it applied',
      snapshot: snapshot({ state: 'ADAPTING', operation: failover('drained', { candidateId: 'node-3' }), nodes: [old, orphan('node-2', '0-1-4710'), orphan('node-3', '0-1-4711')] }),
      step: { kind: 'promote_failover', candidateId: 'node-3', oldMasterId: 'node-1', gtid: '0-1-4711' },
      reason: 'failover: promoting node-3 (GTID 0-1-4711)',
    },
    {
      name: 'a failover recorded drained without its candidate (an older version): the candidate is chosen first',
      snapshot: snapshot({ state: 'ADAPTING', operation: failover('drained'), nodes: [old, orphan('node-2', '0-1-4710'), orphan('node-3', '0-1-4711')] }),
      step: { kind: 'choose_candidate', candidateId: 'node-3', lost: null },
      reason: /choosing node-3/,
    },
    {
      name: 'no replica answers after fencing: abandoned, with the ways out',
      snapshot: snapshot({ state: 'ADAPTING', operation: failover('fenced'), nodes: [old, node('node-2', 'replica', { reachable: false, mysqlRunning: false })] }),
      step: {
        kind: 'abort',
        error: 'failover from node-1 abandoned: no replica can be promoted (node-2 does not answer); ways out: bring the lost master or a replica that has its transactions back (the manager promotes it then); `retry` once a replica can be promoted; `set_up_replica_slave` to re-attach a node',
      },
      reason: 'failover: no replica can be promoted (node-2 does not answer)',
    },
    {
      name: 'then the others are re-pointed to the new master',
      snapshot: snapshot({
        state: 'ADAPTING',
        operation: failover('promoted', { candidateId: 'node-3', gtid: '0-1-4711' }),
        nodes: [{ ...old, role: 'replica' }, orphan('node-2'), node('node-3', 'master', { readOnly: false })],
      }),
      step: { kind: 'repoint', masterId: 'node-3', ids: ['node-2'] },
      reason: 'failover: re-pointing node-2 to node-3',
    },
    {
      name: 'and the decision is told in one sentence',
      snapshot: snapshot({
        state: 'ADAPTING',
        operation: failover('repointed', { candidateId: 'node-3', gtid: '0-1-4711' }),
        nodes: [{ ...old, role: 'replica' }, node('node-2', 'replica', { replicatingFrom: 'node-3' }), node('node-3', 'master', { readOnly: false })],
      }),
      step: { kind: 'finish', state: 'RUNNING', error: null },
      reason: 'promoted node-3: most advanced GTID 0-1-4711, node-2 re-pointed; node-1 is kept read-only until it rejoins or is replaced',
    },
    {
      name: 'a failover that cannot finish leaves the service in ERROR for an operator',
      snapshot: snapshot({ state: 'ADAPTING', lastError: 'drain failed', operation: operation('failover', { phase: 'aborting', params: { oldMasterId: 'node-1', abortError: 'failover failed after 3 attempts: drain failed' } }), nodes: [old, orphan('node-2')] }),
      step: { kind: 'finish', state: 'ERROR', error: 'failover failed after 3 attempts: drain failed' },
      reason: 'failover abandoned: the service needs an operator',
    },
  ]);
});

describe('failover when things are not clean', () => {
  const old = deadMaster(2, { status: 'failed' });
  const fenced = (params: Record<string, unknown> = {}) => failover('fenced', params);
  runCases([
    {
      name: "a frozen master: its agent answers and says the server does not; replicas still attached do not hold the failover up",
      diagnosis: 'DeadMaster',
      snapshot: snapshot({ nodes: [node('node-1', 'master', { mysqlRunning: false, failedChecks: 2 }), node('node-2', 'replica'), node('node-3', 'replica')] }),
      step: { kind: 'begin_failover', oldMasterId: 'node-1' },
      reason: "master node-1's mariadbd does not answer its agent (node-2 and node-3 answer): failing over",
    },
    {
      name: 'an errant replica is never the candidate, even holding the most',
      snapshot: snapshot({ state: 'ADAPTING', operation: fenced(), nodes: [old, orphan('node-2', '0-1-14'), orphan('node-3', '0-1-12')].map((n) => (n.id === 'node-2' ? { ...n, gtidBinlog: gtid('0-2-15'), gtidSlave: gtid('0-1-14') } : n)) }),
      step: { kind: 'choose_candidate', candidateId: 'node-3', lost: null },
      reason: 'failover: choosing node-3, which holds the most (GTID 0-1-12); not node-2 holds errant transactions (0-2-15) its master never had',
    },
    {
      name: 'a replica whose SQL thread stopped on an error is never the candidate',
      snapshot: snapshot({ state: 'ADAPTING', operation: fenced(), nodes: [old, orphan('node-2', '0-1-14'), orphan('node-3', '0-1-12')].map((n) => (n.id === 'node-2' ? { ...n, sqlRunning: 'No', sqlErrno: 1062, replicationError: "Duplicate entry '7' for key 'PRIMARY'" } : n)) }),
      step: { kind: 'choose_candidate', candidateId: 'node-3', lost: null },
      reason: "failover: choosing node-3, which holds the most (GTID 0-1-12); not node-2's replication is broken: SQL error 1062",
    },
    {
      name: 'a lagging candidate: ranked by what it received, not by what it applied',
      snapshot: snapshot({ state: 'ADAPTING', operation: fenced(), nodes: [old, orphan('node-2', '0-1-15'), node('node-3', 'replica', { ioRunning: 'Connecting', gtidApplied: '0-1-12', gtidReceived: '0-1-20', lagSeconds: 40 })] }),
      step: { kind: 'choose_candidate', candidateId: 'node-3', lost: null },
      reason: 'failover: choosing node-3, which holds the most (GTID 0-1-20)',
    },
    {
      name: 'a replica whose IO thread was stopped (no error) still counts for what it received',
      snapshot: snapshot({ state: 'ADAPTING', operation: fenced(), nodes: [old, orphan('node-2', '0-1-11'), node('node-3', 'replica', { ioRunning: 'No', gtidApplied: '0-1-13', gtidReceived: '0-1-13' })] }),
      step: { kind: 'choose_candidate', candidateId: 'node-3', lost: null },
      reason: 'failover: choosing node-3, which holds the most (GTID 0-1-13)',
    },
    {
      name: 'a replica that lost its relay log is not taken for the most advanced: no silent loss',
      snapshot: snapshot({ state: 'ADAPTING', operation: fenced(), nodes: [old, orphan('node-2', '0-1-15'), node('node-3', 'replica', { ioRunning: 'Connecting', gtidApplied: '0-1-12', gtidReceived: '0-1-12', receivedHigh: '0-1-20' })] }),
      step: {
        kind: 'abort',
        error: 'failover from node-1 refused: promoting node-2 would lose 5 transactions (from 0-1-15 to 0-1-20); ways out: bring the lost master or a replica that has its transactions back (the manager promotes it then); `failover node-2 --force` to promote it and accept the loss; `retry` once a replica can be promoted; `set_up_replica_slave` to re-attach a node',
      },
      reason: 'failover refused: node-2, the most advanced replica that can be promoted, holds 0-1-15 but transactions up to 0-1-20 were acknowledged',
    },
    {
      name: 'the same, forced by an operator: the loss is said',
      snapshot: snapshot({ state: 'ADAPTING', operation: fenced({ automatic: false, force: true }), nodes: [old, orphan('node-2', '0-1-15'), node('node-3', 'replica', { ioRunning: 'Connecting', gtidApplied: '0-1-12', gtidReceived: '0-1-12', receivedHigh: '0-1-20' })] }),
      step: { kind: 'choose_candidate', candidateId: 'node-2', lost: '5 transactions (from 0-1-15 to 0-1-20)' },
      reason: 'failover: node-2 chosen by force; it gives up 5 transactions (from 0-1-15 to 0-1-20)',
    },
    {
      name: 'after the promotion, a replica that cannot follow is not re-pointed (it is replaced afterwards)',
      snapshot: snapshot({
        state: 'ADAPTING',
        operation: failover('promoted', { candidateId: 'node-3', gtid: '0-1-12' }),
        nodes: [{ ...old, role: 'replica' }, { ...orphan('node-2'), gtidBinlog: gtid('0-2-15'), gtidSlave: gtid('0-1-10') }, orphan('node-4'), node('node-3', 'master', { readOnly: false })],
      }),
      step: { kind: 'repoint', masterId: 'node-3', ids: ['node-4'] },
      reason: 'failover: re-pointing node-4 to node-3',
    },
  ]);
});

describe('ERROR is never a trap', () => {
  const lostMaster = node('node-1', 'master', { status: 'failed', readOnly: true, gtidApplied: '0-1-20' });
  runCases([
    {
      name: 'the lost master is back with every transaction: it is the master again',
      snapshot: snapshot({ state: 'ERROR', outageSince: NOW - 60_000, lastMasterPosition: gtid('0-1-20'), nodes: [lostMaster, node('node-2', 'replica', { ioRunning: 'Connecting', gtidApplied: '0-1-12', gtidReceived: '0-1-12' })] }),
      step: { kind: 'restore_master', id: 'node-1' },
      reason: 'node-1, the master before the failure, is back with every transaction: making it the master again',
    },
    {
      name: 'after a total outage, only a replica behind the last position is back: it is not promoted',
      snapshot: snapshot({ state: 'ERROR', lastError: 'failover from node-1 refused', outageSince: NOW - 60_000, lastMasterPosition: gtid('0-1-20'), nodes: [{ ...lostMaster, reachable: false, mysqlRunning: false }, node('node-2', 'replica', { ioRunning: 'Connecting', gtidApplied: '0-1-12', gtidReceived: '0-1-12' })] }),
      step: null,
      reason: 'service ERROR: failover from node-1 refused',
    },
    {
      name: 'a replica that holds every acknowledged transaction: promoted on its own',
      snapshot: snapshot({ state: 'ERROR', lastError: 'failover from node-1 abandoned', nodes: [{ ...lostMaster, reachable: false, mysqlRunning: false }, node('node-2', 'replica', { ioRunning: 'Connecting', gtidApplied: '0-1-12', gtidReceived: '0-1-12', receivedHigh: '0-1-12' })] }),
      step: { kind: 'begin_failover', oldMasterId: 'node-1' },
      reason: 'the service has no master and node-2 can be promoted: failing over',
    },
  ]);
});

describe('after a failover: the former master and the size of the service', () => {
  const m3 = node('node-3', 'master', { readOnly: false });
  const r2 = node('node-2', 'replica', { replicatingFrom: 'node-3' });
  runCases([
    {
      name: 'a master that fenced itself while cut off, and is still the master (no failover happened): it takes writes again',
      snapshot: snapshot({ nodes: [node('node-1', 'master', { readOnly: true, fenced: true, waitNoSlave: true }), node('node-2', 'replica'), node('node-3', 'replica')] }),
      step: { kind: 'unfence_master', id: 'node-1' },
      reason: 'master node-1 was fenced (cut off from the manager and its replicas) and is still the master: it takes writes again',
    },
    {
      name: 'a fenced master that fails its checks is not unfenced: it is watched (and failed over)',
      snapshot: snapshot({ nodes: [node('node-1', 'master', { readOnly: true, fenced: true, reachable: false, mysqlRunning: false, failedChecks: 1 }), node('node-2', 'replica'), node('node-3', 'replica')] }),
      step: null,
      reason: 'master node-1 failed 1 of 2 checks: watching it',
    },
    {
      name: 'replicas receive from the master: it waits for an acknowledgement even when cut off from all of them',
      snapshot: snapshot({ desiredReplicas: 2, nodes: [node('node-1', 'master', { waitNoSlave: false }), node('node-2', 'replica', { ioRunning: 'No' }), node('node-3', 'replica', { ioRunning: 'Connecting' })] }),
      step: { kind: 'set_wait_no_slave', id: 'node-1', on: true },
      reason: 'node-3 receives from node-1: it acknowledges no commit that no replica received, even cut off from all of them (rpl_semi_sync_master_wait_no_slave=ON)',
    },
    {
      name: 'no replica can receive (one stopped, one out of sight): the master, which the manager sees, commits alone',
      snapshot: snapshot({ desiredReplicas: 2, nodes: [node('node-1', 'master', { waitNoSlave: true }), node('node-2', 'replica', { ioRunning: 'No' }), node('node-3', 'replica', { reachable: false, failedChecks: 2 })] }),
      step: { kind: 'set_wait_no_slave', id: 'node-1', on: false },
      reason: 'no replica receives from it: node-1 commits alone (rpl_semi_sync_master_wait_no_slave=OFF)',
    },
    {
      name: 'a service with no replica: the master commits alone',
      snapshot: snapshot({ desiredReplicas: 0, nodes: [node('node-1', 'master', { waitNoSlave: true })] }),
      step: { kind: 'set_wait_no_slave', id: 'node-1', on: false },
      reason: 'the service has no replica: node-1 commits alone (rpl_semi_sync_master_wait_no_slave=OFF)',
    },
    {
      name: 'a replica that still waits for acknowledgements (a demoted master): it stops, or its SQL thread would stall on its own binary log',
      snapshot: snapshot({ nodes: [m3, node('node-1', 'replica', { replicatingFrom: 'node-3', waitNoSlave: true }), r2] }),
      step: { kind: 'set_wait_no_slave', id: 'node-1', on: false },
      reason: 'node-1 is a replica: it waits for no acknowledgement (rpl_semi_sync_master_wait_no_slave=OFF)',
    },
    {
      name: 'a former master whose server is down: restart it (it comes back read-only)',
      snapshot: snapshot({ nodes: [node('node-1', 'replica', { status: 'failed', mysqlRunning: false, ioRunning: null, sqlRunning: null, replicatingFrom: null }), r2, m3] }),
      step: { kind: 'restart_mysqld', id: 'node-1' },
      reason: 'node-1 (former master) is down: restarting its mariadbd, read-only',
    },
    {
      name: 'a former master that is back: re-attach it to the new master',
      snapshot: snapshot({ nodes: [node('node-1', 'replica', { status: 'failed', readOnly: true, ioRunning: null, sqlRunning: null, replicatingFrom: null }), r2, m3] }),
      step: { kind: 'rejoin', id: 'node-1', masterId: 'node-3' },
      reason: 'node-1 (former master) is back, read-only: re-attaching it to node-3',
    },
    {
      name: 'a former master that does not answer: wait',
      snapshot: snapshot({ nodes: [node('node-1', 'replica', { status: 'failed', reachable: false, mysqlRunning: false, failedChecks: 3 }), r2, m3] }),
      step: null,
      reason: 'service RUNNING: master node-3, 1 replica; node-1 (former master) does not answer: waiting for it',
    },
    {
      name: 'a former master silent past the grace: a fresh replica takes its place',
      snapshot: snapshot({ nodes: [node('node-1', 'replica', { status: 'failed', reachable: false, mysqlRunning: false, failedChecks: 30 }), r2, m3] }),
      step: { kind: 'begin_replacement', count: 1 },
      reason: 'the service has 1 of 2 replicas: provisioning 1 to replace what was lost',
    },
    {
      name: 'a former master back after it was replaced: destroyed, the service has its replicas',
      snapshot: snapshot({ nodes: [node('node-1', 'replica', { status: 'failed', readOnly: true, ioRunning: null, sqlRunning: null, replicatingFrom: null }), r2, node('node-4', 'replica', { replicatingFrom: 'node-3' }), m3] }),
      step: { kind: 'destroy_nodes', ids: ['node-1'] },
      reason: 'node-1 (former master) is back but the service has its 2 replicas without it: destroying it',
    },
    {
      name: 'a rejoining node that replicates: ready',
      snapshot: snapshot({ nodes: [node('node-1', 'replica', { status: 'rejoining', replicatingFrom: 'node-3' }), r2, m3] }),
      step: { kind: 'mark_ready', id: 'node-1' },
      reason: 'node-1 rejoined as a replica of node-3',
    },
    {
      name: 'a rejoining node with errant transactions (error 1236): replaced, not kept',
      snapshot: snapshot({
        nodes: [
          node('node-1', 'replica', { status: 'rejoining', ioRunning: 'No', replicationError: "Got fatal error 1236 from master when reading data from binary log: 'Error: connecting slave requested to start from GTID 0-1-12, which is not in the master's binlog'" }),
          r2,
          m3,
        ],
      }),
      step: { kind: 'destroy_nodes', ids: ['node-1'] },
      reason: /^node-1 cannot rejoin node-3 \(Got fatal error 1236 .*\): its history diverged \(errant transactions\); replacing it$/,
    },
    {
      name: 'a rejoining node still connecting: wait',
      snapshot: snapshot({ nodes: [node('node-1', 'replica', { status: 'rejoining', ioRunning: 'Connecting', sqlRunning: 'Yes' }), r2, m3] }),
      step: null,
      reason: 'service RUNNING: master node-3, 1 replica',
    },
    {
      name: 'a former master that vanished: forgotten',
      snapshot: snapshot({ nodes: [node('node-1', 'replica', { status: 'failed', alive: false, reachable: false }), r2, m3] }),
      step: { kind: 'forget_nodes', ids: ['node-1'] },
      reason: 'node-1 vanished from the cloud: dropping it from the registry',
    },
    {
      name: 'fewer replicas than asked for: a replacement is provisioned',
      snapshot: snapshot({ nodes: [r2, m3] }),
      step: { kind: 'begin_replacement', count: 1 },
      reason: 'the service has 1 of 2 replicas: provisioning 1 to replace what was lost',
    },
  ]);
});

describe('GTID comparison', () => {
  it('orders positions by sequence number, domain by domain', () => {
    expect(compareGtid('0-1-11', '0-1-10')).toBeGreaterThan(0);
    expect(compareGtid('0-3-10', '0-1-10')).toBe(0);
    expect(compareGtid('', '0-1-1')).toBeLessThan(0);
    expect(compareGtid('0-1-5,1-2-9', '0-1-5,1-2-3')).toBeGreaterThan(0);
    expect(compareGtid(null, null)).toBe(0);
  });
});
