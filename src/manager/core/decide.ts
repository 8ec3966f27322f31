import type { NodeRole } from '../../protocol/manager-api.js';
import { diagnoseMaster, liveReplicas } from './diagnose.js';
import { compareGtid } from './gtid.js';
import { MAX_ATTEMPTS, nodeId, type Decision, type NodeView, type OperationView, type Snapshot } from './model.js';

type NewNode = { id: string; role: NodeRole; serverId: number };

/**
 * The manager's brain: given what it knows now, the one next step and a sentence saying why
 * (STYLE.md: observe → decide → one step). Pure: the same snapshot always gives the same decision.
 */
export function decide(s: Snapshot): Decision {
  if (s.unknownNodes.length > 0) {
    return { reason: `${list(s.unknownNodes)} ${isAre(s.unknownNodes)} running but unknown to the registry: destroying ${them(s.unknownNodes)}`, step: { kind: 'destroy_unknown', ids: s.unknownNodes } };
  }
  const op = s.operation;
  if (!op) return decideIdle(s);
  if (op.phase === 'aborting' || op.phase === 'aborted') return decideAbort(s, op);
  if (op.attempts >= MAX_ATTEMPTS) {
    const error = `${op.kind} failed after ${op.attempts} attempts: ${s.lastError ?? 'unknown error'}`;
    return { reason: `${error}; abandoning it`, step: { kind: 'abort', error } };
  }
  switch (op.kind) {
    case 'startup':
    case 'add_nodes':
      return decideGrow(s, op);
    case 'remove_nodes':
      return decideShrink(s, op);
    case 'shutdown':
      return decideShutdown(s);
    case 'switchover':
      return decideSwitchover(s, op);
    case 'attach':
      return decideAttach(s, op);
    case 'failover':
      return decideFailover(s, op);
  }
}

/** No operation: watch the master, clean up after failures, keep the service at its size. */
function decideIdle(s: Snapshot): Decision {
  if (s.state !== 'RUNNING' && s.state !== 'ERROR') return { reason: `service ${s.state}: nothing to do`, step: null };
  const gone = s.nodes.filter((n) => n.role === 'replica' && !n.alive && (n.status === 'ready' || n.status === 'failed' || n.status === 'rejoining'));
  if (gone.length > 0) {
    const ids = gone.map((n) => n.id);
    return { reason: `${list(ids)} vanished from the cloud: dropping ${them(ids)} from the registry`, step: { kind: 'forget_nodes', ids } };
  }
  const d = diagnoseMaster(s);
  switch (d.name) {
    case 'NoMaster':
      if (s.state === 'RUNNING') return { reason: 'the service has no master', step: { kind: 'finish', state: 'ERROR', error: 'the service has no master' } };
      return { reason: `service ERROR: ${s.lastError ?? 'no master'}`, step: null };
    case 'MasterSuspect':
      return { reason: `master ${d.master.id} failed ${d.master.failedChecks} of ${s.failover.checks} checks: watching it`, step: null };
    case 'MasterUnreachableFromManager':
      return { reason: `failover refused: replicas still connected to ${d.master.id} (${list(d.connected)}); master ${d.master.id} unreachable from manager`, step: null, notable: true };
    case 'DeadMasterNoHealthyReplica':
      return { reason: `master ${d.master.id} is unreachable and no replica answers (${list(d.replicas)}): nothing to promote`, step: null, notable: true };
    case 'DeadMasterNoReplica':
      return d.master.alive
        ? d.master.reachable
          ? { reason: `master ${d.master.id}'s mariadbd is down and there is no replica to promote: restarting it`, step: { kind: 'restart_master', id: d.master.id, recreate: false } }
          : { reason: `master ${d.master.id} does not answer and there is no replica to promote: waiting for it`, step: null, notable: true }
        : { reason: `master ${d.master.id} is gone and there is no replica to promote: restarting its node`, step: { kind: 'restart_master', id: d.master.id, recreate: true } };
    case 'DeadMaster': {
      const who = `master ${d.master.id} unreachable from manager and replicas (${list(d.confirmedBy)} lost it)`;
      if (!s.failover.enabled) return { reason: `${who}: automatic failover is off; run a manual failover`, step: null, notable: true };
      if (s.failover.blockedUntil !== null && s.now < s.failover.blockedUntil) {
        return { reason: `${who}: failover refused: blocked until ${new Date(s.failover.blockedUntil).toISOString()} after the last one; acknowledge_failover lifts the block`, step: null, notable: true };
      }
      return { reason: `${who}: failing over`, step: { kind: 'begin_failover', oldMasterId: d.master.id } };
    }
    case 'MasterHealthy':
      break;
  }
  const master = d.master;
  // A former master: bring its server back (read-only), then re-attach it or replace it.
  for (const n of s.nodes.filter((x) => x.status === 'failed' && x.alive)) {
    if (!n.reachable) return { reason: `${n.id} (former master) does not answer: waiting for it`, step: null, notable: true };
    if (!n.mysqlRunning) return { reason: `${n.id} (former master) is down: restarting its mariadbd, read-only`, step: { kind: 'restart_mysqld', id: n.id } };
    return { reason: `${n.id} (former master) is back, read-only: re-attaching it to ${master.id}`, step: { kind: 'rejoin', id: n.id, masterId: master.id } };
  }
  for (const n of s.nodes.filter((x) => x.status === 'rejoining' && x.alive && x.reachable)) {
    if (n.replicationError !== '' || n.ioRunning === 'No' || n.sqlRunning === 'No') {
      const why = n.replicationError || 'replication stopped';
      return { reason: `${n.id} cannot rejoin ${master.id} (${why}): its history diverged (errant transactions); replacing it`, step: { kind: 'destroy_nodes', ids: [n.id] } };
    }
    if (n.ioRunning === 'Yes' && n.sqlRunning === 'Yes') return { reason: `${n.id} rejoined as a replica of ${master.id}`, step: { kind: 'mark_ready', id: n.id } };
  }
  const replicas = s.nodes.filter((n) => n.role === 'replica' && n.status !== 'removing');
  if (replicas.length < s.desiredReplicas) {
    const missing = s.desiredReplicas - replicas.length;
    return { reason: `the service has ${replicas.length} of ${s.desiredReplicas} replicas: provisioning ${missing} to replace what was lost`, step: { kind: 'begin_replacement', count: missing } };
  }
  const ready = liveReplicas(s);
  return { reason: `service ${s.state}: master ${master.id}, ${ready.length} replica${ready.length === 1 ? '' : 's'}`, step: null };
}

/** startup and add_nodes: bring the service to one master and the desired number of replicas. */
function decideGrow(s: Snapshot, op: OperationView): Decision {
  const master = masterOf(s);
  let seq = s.nextSeq;
  if (!master) {
    const nodes: NewNode[] = [{ id: nodeId(seq), role: 'master', serverId: seq++ }];
    for (let i = 0; i < s.desiredReplicas; i++) nodes.push({ id: nodeId(seq), role: 'replica', serverId: seq++ });
    return { reason: `${op.kind}: registering ${list(nodes.map((n) => n.id))} (master ${nodes[0]!.id})`, step: { kind: 'register_nodes', nodes } };
  }
  if (master.status === 'ready' && !master.alive) {
    return { reason: `${op.kind}: the master ${master.id} vanished`, step: { kind: 'abort', error: `the master ${master.id} vanished during ${op.kind}` } };
  }
  const replicas = replicasOf(s);
  const missing = s.desiredReplicas - replicas.length;
  if (missing > 0) {
    const nodes: NewNode[] = Array.from({ length: missing }, () => ({ id: nodeId(seq), role: 'replica', serverId: seq++ }));
    return { reason: `${op.kind}: ${missing} more replica${missing > 1 ? 's' : ''} wanted: registering ${list(nodes.map((n) => n.id))}`, step: { kind: 'register_nodes', nodes } };
  }
  const creating = s.nodes.filter((n) => n.status === 'creating');
  if (creating.length > 0) {
    const ids = creating.map((n) => n.id);
    return { reason: `${op.kind}: creating ${list(ids)}`, step: { kind: 'create_nodes', ids } };
  }
  if (master.status === 'created') return { reason: `${op.kind}: starting ${master.id} as the master`, step: { kind: 'start_master', id: master.id } };
  if (!master.alive) return { reason: `${op.kind}: the master ${master.id} vanished`, step: { kind: 'abort', error: `the master ${master.id} vanished during ${op.kind}` } };
  const toProvision = replicas.filter((n) => n.status === 'created');
  if (toProvision.length > 0) {
    const ids = toProvision.map((n) => n.id);
    return { reason: `${op.kind}: provisioning ${list(ids)} from a snapshot of ${master.id}`, step: { kind: 'provision', ids, masterId: master.id } };
  }
  const ready = replicas.filter((n) => n.status === 'ready').map((n) => n.id);
  return {
    reason: `${op.kind} complete: master ${master.id}${ready.length > 0 ? `, replica${ready.length > 1 ? 's' : ''} ${list(ready)}` : ', no replica'}`,
    step: { kind: 'finish', state: 'RUNNING', error: null },
  };
}

function decideShrink(s: Snapshot, op: OperationView): Decision {
  const removing = s.nodes.filter((n) => n.status === 'removing').map((n) => n.id);
  if (removing.length > 0) return { reason: `remove_nodes: destroying ${list(removing)}`, step: { kind: 'destroy_nodes', ids: removing } };
  const ids = Array.isArray(op.params['ids']) ? (op.params['ids'] as string[]) : [];
  return { reason: `remove_nodes complete: removed ${list(ids)}`, step: { kind: 'finish', state: 'RUNNING', error: null } };
}

function decideShutdown(s: Snapshot): Decision {
  const ids = s.nodes.map((n) => n.id);
  if (ids.length > 0) return { reason: `shutdown: destroying ${list(ids)}`, step: { kind: 'destroy_nodes', ids } };
  return { reason: 'shutdown complete: every node destroyed', step: { kind: 'finish', state: 'STOPPED', error: null } };
}

function decideSwitchover(s: Snapshot, op: OperationView): Decision {
  const candidateId = String(op.params['candidateId']);
  const oldMasterId = String(op.params['oldMasterId']);
  const candidate = s.nodes.find((n) => n.id === candidateId);
  const others = (masterId: string): string[] => s.nodes.filter((n) => n.id !== masterId && n.status === 'ready').map((n) => n.id);
  switch (op.phase) {
    case null:
      if (!candidate || !candidate.reachable) {
        return { reason: `switchover: ${candidateId} is not reachable`, step: { kind: 'abort', error: `switchover to ${candidateId} abandoned: the node is not reachable` } };
      }
      return { reason: `switchover: pausing writes on ${oldMasterId} (read_only)`, step: { kind: 'fence', masterId: oldMasterId } };
    case 'fenced':
      return { reason: `switchover: waiting for ${candidateId} to apply everything ${oldMasterId} wrote`, step: { kind: 'catch_up', candidateId, masterId: oldMasterId } };
    case 'caught_up':
      return { reason: `switchover: promoting ${candidateId}`, step: { kind: 'promote', candidateId, oldMasterId } };
    case 'promoted':
      return { reason: `switchover: re-pointing ${list(others(candidateId))} to ${candidateId}`, step: { kind: 'repoint', masterId: candidateId, ids: others(candidateId) } };
    default:
      return {
        reason: `switchover complete: ${candidateId} is the master${others(candidateId).length > 0 ? `; ${list(others(candidateId))} follow${others(candidateId).length === 1 ? 's' : ''} it` : ''}`,
        step: { kind: 'finish', state: 'RUNNING', error: null },
      };
  }
}

function decideAttach(s: Snapshot, op: OperationView): Decision {
  const id = String(op.params['id']);
  const master = masterOf(s);
  if (!master) return { reason: 'set_up_replica_slave: there is no master', step: { kind: 'abort', error: 'set_up_replica_slave: the service has no master' } };
  if (op.phase === 'attached') return { reason: `${id} replicates from ${master.id}`, step: { kind: 'finish', state: 'RUNNING', error: null } };
  return { reason: `set_up_replica_slave: attaching ${id} to ${master.id}`, step: { kind: 'attach', id, masterId: master.id } };
}

/**
 * Failover: fence (replicas stop receiving from the old master, which is made read-only where it
 * answers), let the replicas apply what they received, promote the most advanced, re-point the rest.
 */
function decideFailover(s: Snapshot, op: OperationView): Decision {
  const oldMasterId = String(op.params['oldMasterId']);
  const fenced = liveReplicas(s).filter((n) => n.reachable && n.mysqlRunning);
  switch (op.phase) {
    case null:
      return { reason: `failover: fencing ${oldMasterId}: ${list(fenced.map((n) => n.id)) || 'no replica'} stop${fenced.length === 1 ? 's' : ''} receiving from it`, step: { kind: 'fence_replicas', oldMasterId, ids: fenced.map((n) => n.id) } };
    case 'fenced':
      return { reason: `failover: letting ${list(fenced.map((n) => n.id))} apply ${fenced.length === 1 ? 'its' : 'their'} relay logs`, step: { kind: 'drain', ids: fenced.map((n) => n.id) } };
    case 'drained': {
      if (fenced.length === 0) return { reason: 'failover: no healthy replica to promote', step: { kind: 'abort', error: `failover from ${oldMasterId} abandoned: no healthy replica to promote` } };
      const wanted = typeof op.params['candidateId'] === 'string' ? op.params['candidateId'] : null;
      const best = [...fenced].sort((a, b) => compareGtid(b.gtidApplied, a.gtidApplied) || (a.id === wanted ? -1 : b.id === wanted ? 1 : a.serverId - b.serverId))[0]!;
      return {
        reason: `failover: promoting ${best.id}, the most advanced (GTID ${best.gtidApplied || 'empty'}) of ${list(fenced.map((n) => n.id))}`,
        step: { kind: 'promote_failover', candidateId: best.id, oldMasterId, gtid: best.gtidApplied ?? '' },
      };
    }
    case 'promoted': {
      const candidateId = String(op.params['candidateId']);
      const ids = liveReplicas(s).filter((n) => n.id !== candidateId).map((n) => n.id);
      return { reason: `failover: re-pointing ${list(ids) || 'no replica'} to ${candidateId}`, step: { kind: 'repoint', masterId: candidateId, ids } };
    }
    default: {
      const candidateId = String(op.params['candidateId']);
      const ids = liveReplicas(s).filter((n) => n.id !== candidateId).map((n) => n.id);
      return {
        reason: `promoted ${candidateId}: most advanced GTID ${String(op.params['gtid'] ?? '') || 'empty'}${ids.length > 0 ? `, ${list(ids)} re-pointed` : ''}; ${oldMasterId} is kept read-only until it rejoins or is replaced`,
        step: { kind: 'finish', state: 'RUNNING', error: null },
      };
    }
  }
}

/** An operation that failed for good: undo what can be undone, then say where the service stands. */
function decideAbort(s: Snapshot, op: OperationView): Decision {
  const error = typeof op.params['abortError'] === 'string' ? op.params['abortError'] : (s.lastError ?? `${op.kind} failed`);
  if (op.attempts >= MAX_ATTEMPTS) {
    return { reason: `${op.kind} abandoned, and undoing it failed too`, step: { kind: 'finish', state: 'ERROR', error: `${error}; undoing it failed too: ${s.lastError ?? 'unknown error'}` } };
  }
  switch (op.kind) {
    case 'startup':
    case 'add_nodes': {
      const unfinished = s.nodes.filter((n) => n.status === 'creating' || n.status === 'created').map((n) => n.id);
      if (unfinished.length > 0) return { reason: `${op.kind} abandoned: destroying the unfinished ${list(unfinished)}`, step: { kind: 'destroy_nodes', ids: unfinished } };
      return masterOf(s)?.alive
        ? { reason: `${op.kind} abandoned; the service runs on with what was ready`, step: { kind: 'finish', state: 'RUNNING', error } }
        : { reason: `${op.kind} abandoned; the service has no master`, step: { kind: 'finish', state: 'ERROR', error } };
    }
    case 'switchover': {
      const oldMasterId = String(op.params['oldMasterId']);
      const candidate = s.nodes.find((n) => n.id === String(op.params['candidateId']));
      const promoted = masterOf(s)?.id !== oldMasterId || (candidate !== undefined && (candidate.readOnly === false || (candidate.reachable && candidate.replicatingFrom === null)));
      if (promoted) return { reason: 'switchover failed after the promotion: the service needs an operator', step: { kind: 'finish', state: 'ERROR', error } };
      if (op.phase === 'aborting') return { reason: `switchover abandoned: writes resume on ${oldMasterId}`, step: { kind: 'unfence', masterId: oldMasterId } };
      return { reason: `switchover abandoned; ${oldMasterId} is still the master`, step: { kind: 'finish', state: 'RUNNING', error } };
    }
    case 'attach':
      return masterOf(s)
        ? { reason: 'set_up_replica_slave abandoned', step: { kind: 'finish', state: 'RUNNING', error } }
        : { reason: 'set_up_replica_slave abandoned; the service has no master', step: { kind: 'finish', state: 'ERROR', error } };
    case 'failover':
      return { reason: 'failover abandoned: the service needs an operator', step: { kind: 'finish', state: 'ERROR', error } };
    case 'remove_nodes':
    case 'shutdown':
      return { reason: `${op.kind} abandoned: some nodes could not be destroyed`, step: { kind: 'finish', state: 'ERROR', error } };
  }
}

function masterOf(s: Snapshot): NodeView | undefined {
  return s.nodes.find((n) => n.role === 'master' && n.status !== 'removing' && n.status !== 'failed');
}

function replicasOf(s: Snapshot): NodeView[] {
  return s.nodes.filter((n) => n.role === 'replica' && n.status !== 'removing');
}

function list(ids: readonly string[]): string {
  if (ids.length <= 1) return ids.join('');
  return `${ids.slice(0, -1).join(', ')} and ${ids[ids.length - 1]}`;
}

function isAre(ids: readonly string[]): string {
  return ids.length > 1 ? 'are' : 'is';
}

function them(ids: readonly string[]): string {
  return ids.length > 1 ? 'them' : 'it';
}
