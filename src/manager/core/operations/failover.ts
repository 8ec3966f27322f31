import { compareGtidPositions, formatGtidPosition, type GtidPosition } from '../../../protocol/gtid.js';
import { liveReplicas, type NodeView, type Snapshot } from '../model.js';
import { list } from '../words.js';
import { reached, type OperationSpec } from './spec.js';

/** The replicas that take part: in service, answering, their server up. */
function fenced(s: Snapshot): NodeView[] {
  return liveReplicas(s.nodes).filter((n) => n.reachable && n.mysqlRunning);
}

/** Orders candidates: the most advanced position first; among equals the one an operator named, then the lowest server id. */
function byAdvance(wanted: string | null): (a: NodeView, b: NodeView) => number {
  const pos = (n: NodeView): GtidPosition => n.gtidApplied ?? [];
  return (a, b) => {
    const o = compareGtidPositions(pos(b), pos(a));
    if (o === 'ahead') return 1;
    if (o === 'behind') return -1;
    return a.id === wanted ? -1 : b.id === wanted ? 1 : a.serverId - b.serverId;
  };
}

function shown(p: GtidPosition | null): string {
  return p && p.length > 0 ? formatGtidPosition(p) : 'empty';
}

/**
 * Failover: the master is lost. Fence (replicas stop receiving from it; it is made read-only
 * where it answers), let the replicas apply what they received, promote the most advanced,
 * re-point the rest. Begun by the loop (a dead master) or an operator (`failover`).
 */
export const failover: OperationSpec<'failover'> = {
  kinds: ['failover'],
  begunBy: 'the loop, when the master is dead (failover.md), or `failover`',
  phases: [
    {
      name: 'fence_replicas',
      does: "the replicas stop their IO threads (nothing more from the old master); the old master is made `read_only` if it answers (records `fenced`)",
      decide: (s, op) => {
        if (reached(op, 'fenced')) return null;
        const ids = fenced(s).map((n) => n.id);
        const oldMasterId = op.params.oldMasterId;
        return { reason: `failover: fencing ${oldMasterId}: ${list(ids) || 'no replica'} stop${ids.length === 1 ? 's' : ''} receiving from it`, step: { kind: 'fence_replicas', oldMasterId, ids } };
      },
    },
    {
      name: 'drain',
      does: 'each fenced replica applies its relay log (records `drained`)',
      decide: (s, op) => {
        if (reached(op, 'drained')) return null;
        const ids = fenced(s).map((n) => n.id);
        return { reason: `failover: letting ${list(ids)} apply ${ids.length === 1 ? 'its' : 'their'} relay logs`, step: { kind: 'drain', ids } };
      },
    },
    {
      name: 'promote',
      does: 'promote the most advanced replica (records `promoted`, the candidate and its GTID)',
      decide: (s, op) => {
        if (reached(op, 'promoted')) return null;
        const candidates = fenced(s);
        const oldMasterId = op.params.oldMasterId;
        if (candidates.length === 0) return { reason: 'failover: no healthy replica to promote', step: { kind: 'abort', error: `failover from ${oldMasterId} abandoned: no healthy replica to promote` } };
        const best = [...candidates].sort(byAdvance(op.params.candidateId ?? null))[0]!;
        const gtid = best.gtidApplied ? formatGtidPosition(best.gtidApplied) : '';
        return {
          reason: `failover: promoting ${best.id}, the most advanced (GTID ${shown(best.gtidApplied)}) of ${list(candidates.map((n) => n.id))}`,
          step: { kind: 'promote_failover', candidateId: best.id, oldMasterId, gtid },
        };
      },
    },
    {
      name: 'repoint',
      does: 'point the other replicas at the new master (records `repointed`)',
      decide: (s, op) => {
        if (reached(op, 'repointed')) return null;
        const candidateId = op.params.candidateId!;
        const ids = liveReplicas(s.nodes).filter((n) => n.id !== candidateId).map((n) => n.id);
        return { reason: `failover: re-pointing ${list(ids) || 'no replica'} to ${candidateId}`, step: { kind: 'repoint', masterId: candidateId, ids } };
      },
    },
  ],
  done: (s, op) => {
    const { candidateId, oldMasterId, gtid } = op.params;
    const ids = liveReplicas(s.nodes).filter((n) => n.id !== candidateId).map((n) => n.id);
    return {
      reason: `promoted ${candidateId}: most advanced GTID ${gtid || 'empty'}${ids.length > 0 ? `, ${list(ids)} re-pointed` : ''}; ${oldMasterId} is kept read-only until it rejoins or is replaced`,
      step: { kind: 'finish', state: 'RUNNING', error: null },
      // An automatic failover blocks the next one for a while (anti-flapping); an operator's does not.
      ...(op.params.automatic ? { service: { failoverBlockedUntil: s.now + s.failover.blockSeconds * 1000 } } : {}),
    };
  },
  ends: '`RUNNING`; an automatic failover blocks the next automatic one (`--failover-block-seconds`)',
  abandon: (_s, _op, error) => ({ reason: 'failover abandoned: the service needs an operator', step: { kind: 'finish', state: 'ERROR', error } }),
  undoes: '`ERROR`: nothing is undone, an operator decides',
  records: { fence_replicas: 'fenced', drain: 'drained', promote_failover: 'promoted', repoint: 'repointed' },
};
