import { masterOf, type NodeView } from '../model.js';
import { describeReplica, diagnoseReplica } from '../replicas.js';
import { list } from '../words.js';
import { reached, type OperationSpec } from './spec.js';

/** The ready nodes other than the new master: the ones re-pointed to it (the old master included). */
function followers(s: Parameters<OperationSpec<'switchover'>['done']>[0], masterId: string): string[] {
  return s.nodes.filter((n) => n.id !== masterId && n.status === 'ready').map((n) => n.id);
}

/** set_up_replica_master: a planned switchover to a chosen replica, losing no write. */
export const switchover: OperationSpec<'switchover'> = {
  kinds: ['switchover'],
  begunBy: '`set_up_replica_master`',
  phases: [
    {
      name: 'check',
      does: 'before any write is blocked: the candidate answers, replicates from the master without error, holds no errant transaction and is at most `maxLagSeconds` behind (default 5)',
      decide: (s, op) => {
        if (reached(op, 'fenced')) return null;
        const { candidateId, oldMasterId } = op.params;
        const candidate = s.nodes.find((n) => n.id === candidateId);
        if (!candidate || !candidate.reachable) {
          return { reason: `switchover: ${candidateId} is not reachable`, step: { kind: 'abort', error: `switchover to ${candidateId} abandoned: the node is not reachable` } };
        }
        const why = switchoverRefusal(candidate, oldMasterId, op.params.maxLagSeconds ?? SWITCHOVER_MAX_LAG_SECONDS);
        return why === null ? null : { reason: `switchover to ${candidateId} refused: ${why}`, step: { kind: 'abort', error: `switchover to ${candidateId} refused before any write was blocked: ${why}` } };
      },
    },
    {
      name: 'fence',
      does: 'make the master `read_only` (records `fenced`); from here writes wait, at most the switchover timeout (5 s by default)',
      decide: (_s, op) => (reached(op, 'fenced') ? null : { reason: `switchover: pausing writes on ${op.params.oldMasterId} (read_only)`, step: { kind: 'fence', masterId: op.params.oldMasterId } }),
    },
    {
      name: 'catch_up',
      does: "the candidate waits until it applied the master's GTID position, the switchover timeout at most (records `caught_up`); past it the switchover is abandoned at once and writes resume",
      decide: (_s, op) =>
        reached(op, 'caught_up')
          ? null
          : { reason: `switchover: waiting for ${op.params.candidateId} to apply everything ${op.params.oldMasterId} wrote`, step: { kind: 'catch_up', candidateId: op.params.candidateId, masterId: op.params.oldMasterId } },
    },
    {
      name: 'promote',
      does: 'promote the candidate; the registry swaps the roles (records `promoted`)',
      decide: (_s, op) =>
        reached(op, 'promoted') ? null : { reason: `switchover: promoting ${op.params.candidateId}`, step: { kind: 'promote', candidateId: op.params.candidateId, oldMasterId: op.params.oldMasterId } },
    },
    {
      name: 'repoint',
      does: 'point every other ready node, the old master included, at the new master (records `repointed`)',
      decide: (s, op) => {
        if (reached(op, 'repointed')) return null;
        const ids = followers(s, op.params.candidateId);
        return { reason: `switchover: re-pointing ${list(ids)} to ${op.params.candidateId}`, step: { kind: 'repoint', masterId: op.params.candidateId, ids } };
      },
    },
  ],
  done: (s, op) => {
    const ids = followers(s, op.params.candidateId);
    return {
      reason: `switchover complete: ${op.params.candidateId} is the master${ids.length > 0 ? `; ${list(ids)} follow${ids.length === 1 ? 's' : ''} it` : ''}`,
      step: { kind: 'finish', state: 'RUNNING', error: null },
    };
  },
  ends: '`RUNNING`',
  abandon: (s, op, error) => {
    const { candidateId, oldMasterId } = op.params;
    const candidate = s.nodes.find((n) => n.id === candidateId);
    // Seen writable or detached, the candidate may already take writes: never unfence the old master then.
    const promoted = masterOf(s.nodes)?.id !== oldMasterId || (candidate !== undefined && (candidate.readOnly === false || (candidate.reachable && candidate.replicatingFrom === null)));
    if (promoted) return { reason: 'switchover failed after the promotion: the service needs an operator', step: { kind: 'finish', state: 'ERROR', error } };
    if (op.phase === 'aborting') return { reason: `switchover abandoned: writes resume on ${oldMasterId}`, step: { kind: 'unfence', masterId: oldMasterId } };
    return { reason: `switchover abandoned; ${oldMasterId} is still the master`, step: { kind: 'finish', state: 'RUNNING', error } };
  },
  undoes: 'before the promotion: writes resume on the old master (`unfence`), `RUNNING` with the error; after it: `ERROR` for an operator',
  records: { fence: 'fenced', catch_up: 'caught_up', promote: 'promoted', repoint: 'repointed', unfence: 'aborted' },
  // While writes are blocked, a failed step is not tried again: writes resume at once instead.
  attemptsAllowed: (_s, op) => (op.phase === 'fenced' || op.phase === 'caught_up' ? 1 : 3),
};

/** How far behind (seconds) a switchover's candidate may be, unless the call says otherwise. */
export const SWITCHOVER_MAX_LAG_SECONDS = 5;

/** Why a node cannot be switched to now, or null when it can: it must follow the master, healthy, close behind. */
export function switchoverRefusal(candidate: NodeView, masterId: string, maxLagSeconds: number): string | null {
  if (!candidate.mysqlRunning) return `${candidate.id}'s mariadbd is down`;
  const d = diagnoseReplica(candidate, masterId);
  if (d.name === 'ReplicaLagging' || d.name === 'ReplicaHealthy') {
    const lag = candidate.lagSeconds;
    if (lag === null) return `${candidate.id} reports no lag (its replication is stopped)`;
    return lag > maxLagSeconds ? `${candidate.id} is ${lag} s behind (the limit is ${maxLagSeconds} s)` : null;
  }
  if (d.name === 'ReplicationBroken') return `${candidate.id}'s replication stopped on ${d.thread} error ${d.errno}: ${d.error}`;
  return describeReplica(candidate.id, d);
}
