import type { NodeRole } from '../../protocol/manager-api.js';
import { MAX_ATTEMPTS, nodeId, type Decision, type NodeView, type OperationView, type Snapshot } from './model.js';

type NewNode = { id: string; role: NodeRole; serverId: number };

/**
 * The manager's brain: given what it knows now, the one next step and a sentence saying why
 * (STYLE.md: observe → decide → one step). Pure: the same snapshot always gives the same decision.
 */
export function decide(s: Snapshot): Decision {
  if (s.unknownNodes.length > 0) {
    return { reason: `${list(s.unknownNodes)} ${isAre(s.unknownNodes)} running but unknown to the registry: destroying ${s.unknownNodes.length > 1 ? 'them' : 'it'}`, step: { kind: 'destroy_unknown', ids: s.unknownNodes } };
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
  }
}

/** No operation: watch for nodes that vanished. */
function decideIdle(s: Snapshot): Decision {
  if (s.state !== 'RUNNING' && s.state !== 'ERROR') return { reason: `service ${s.state}: nothing to do`, step: null };
  const vanished = s.nodes.filter((n) => n.status === 'ready' && !n.alive);
  if (vanished.length > 0) {
    const ids = vanished.map((n) => n.id);
    return { reason: `${list(ids)} vanished from the cloud: dropping ${ids.length > 1 ? 'them' : 'it'} from the registry`, step: { kind: 'forget_nodes', ids } };
  }
  const master = masterOf(s);
  if (!master && s.state === 'RUNNING') {
    return { reason: 'the service has no master', step: { kind: 'finish', state: 'ERROR', error: 'the master vanished and no failover is configured: the service has no master' } };
  }
  const replicas = replicasOf(s).filter((n) => n.status === 'ready');
  return { reason: `service ${s.state}: master ${master?.id ?? 'none'}, ${replicas.length} replica${replicas.length === 1 ? '' : 's'}`, step: null };
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
  const ready = replicas.map((n) => n.id);
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

/** An operation that failed for good: undo what can be undone, then say where the service stands. */
function decideAbort(s: Snapshot, op: OperationView): Decision {
  const error = s.lastError ?? `${op.kind} failed`;
  switch (op.kind) {
    case 'startup':
    case 'add_nodes': {
      const unfinished = s.nodes.filter((n) => n.status !== 'ready').map((n) => n.id);
      if (unfinished.length > 0) return { reason: `${op.kind} abandoned: destroying the unfinished ${list(unfinished)}`, step: { kind: 'destroy_nodes', ids: unfinished } };
      const master = masterOf(s);
      return master
        ? { reason: `${op.kind} abandoned; the service runs on with what was ready`, step: { kind: 'finish', state: 'RUNNING', error } }
        : { reason: `${op.kind} abandoned; the service has no master`, step: { kind: 'finish', state: 'ERROR', error } };
    }
    case 'switchover': {
      const oldMasterId = String(op.params['oldMasterId']);
      const promoted = masterOf(s)?.id !== oldMasterId;
      if (promoted) return { reason: 'switchover failed after the promotion: the service needs an operator', step: { kind: 'finish', state: 'ERROR', error } };
      if (op.phase === 'aborting') return { reason: `switchover abandoned: writes resume on ${oldMasterId}`, step: { kind: 'unfence', masterId: oldMasterId } };
      return { reason: `switchover abandoned; ${oldMasterId} is still the master`, step: { kind: 'finish', state: 'RUNNING', error } };
    }
    case 'attach':
      return { reason: 'set_up_replica_slave abandoned', step: { kind: 'finish', state: 'RUNNING', error } };
    case 'remove_nodes':
    case 'shutdown':
      return { reason: `${op.kind} abandoned: some nodes could not be destroyed`, step: { kind: 'finish', state: 'ERROR', error } };
  }
}

function masterOf(s: Snapshot): NodeView | undefined {
  return s.nodes.find((n) => n.role === 'master' && n.status !== 'removing');
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
