import { compareGtidPositions, formatGtidPosition, gtidContains, laterOf, type GtidPosition } from '../../../protocol/gtid.js';
import { liveReplicas, type NodeView, type Snapshot } from '../model.js';
import { describeReplica, diagnoseReplica, heldPosition, promotable } from '../replicas.js';
import { list } from '../words.js';
import { reached, type OperationSpec } from './spec.js';

type FailoverOp = Parameters<OperationSpec<'failover'>['done']>[1];

/** The replicas that take part: in service, answering, their server up. */
function answering(s: Snapshot): NodeView[] {
  return liveReplicas(s.nodes).filter((n) => n.reachable && n.mysqlRunning);
}

/** Orders candidates: the most held first (received, else applied); among equals the one named, then the most applied, then the lowest server id. */
function byAdvance(preferred: string | null): (a: NodeView, b: NodeView) => number {
  return (a, b) => {
    const held = compareGtidPositions(heldPosition(b), heldPosition(a));
    if (held === 'ahead') return 1;
    if (held === 'behind') return -1;
    if (a.id === preferred) return -1;
    if (b.id === preferred) return 1;
    const applied = compareGtidPositions(b.gtidApplied ?? [], a.gtidApplied ?? []);
    if (applied === 'ahead') return 1;
    if (applied === 'behind') return -1;
    return a.serverId - b.serverId;
  };
}

/** How many transactions `held` lacks of `required`, counted by sequence numbers domain by domain (GTID sequence numbers have no gaps within a domain). */
function missingCount(held: GtidPosition, required: GtidPosition): string {
  let n = 0;
  for (const r of required) n += Math.max(0, r.seq - (held.find((h) => h.domain === r.domain)?.seq ?? 0));
  return `${n} transaction${n === 1 ? '' : 's'}`;
}

function shown(p: GtidPosition | null): string {
  return p && p.length > 0 ? formatGtidPosition(p) : 'empty';
}

/**
 * The position a promoted replica must hold so that no acknowledged transaction is lost: the most
 * any replica was ever seen to receive (a replica that lost its relay log had it once), and after
 * a total outage the last master's own position (it may have acknowledged what no replica has).
 */
export function requiredPosition(s: Snapshot): GtidPosition {
  let required: GtidPosition = [];
  for (const n of liveReplicas(s.nodes)) if (n.receivedHigh) required = laterOf(required, n.receivedHigh);
  if (s.outageSince !== null && s.outageSince !== undefined && s.lastMasterPosition) required = laterOf(required, s.lastMasterPosition);
  return required;
}

/** The candidate the failover would promote now (the one named, if any, or none), and why each other replica is not it. */
export function chooseCandidate(s: Snapshot, op: { params: { preferred?: string; excluded?: string[] } }): { best: NodeView | null; refused: string[] } {
  const excluded = new Set(op.params.excluded ?? []);
  const why = new Map<string, string>();
  const eligible: NodeView[] = [];
  for (const n of liveReplicas(s.nodes)) {
    if (excluded.has(n.id)) why.set(n.id, `${n.id}: it could not apply what it received`);
    else if (!promotable(n)) why.set(n.id, describeReplica(n.id, diagnoseReplica(n, n.replicatingFrom ?? '')));
    else eligible.push(n);
  }
  const preferred = op.params.preferred;
  if (preferred !== undefined) {
    // The replica an operator named is the one promoted, or none: never another behind their back.
    const named = eligible.find((n) => n.id === preferred);
    return named ? { best: named, refused: [] } : { best: null, refused: [why.get(preferred) ?? `${preferred} is not a replica in service`] };
  }
  return { best: [...eligible].sort(byAdvance(null))[0] ?? null, refused: [...why.values()] };
}

/** How an operator gets out when no replica can be promoted on its own. */
function waysOut(s: Snapshot): string {
  const named = liveReplicas(s.nodes).filter((n) => n.reachable && n.mysqlRunning).map((n) => n.id);
  const force = named.length > 0 ? `\`failover ${named[0]} --force\` to promote it and accept the loss; ` : '';
  return `ways out: bring the lost master or a replica that has its transactions back (the manager promotes it then); ${force}\`retry\` once a replica can be promoted; \`set_up_replica_slave\` to re-attach a node`;
}

/**
 * Failover: the master is lost (or the service has none). Fence the replicas (no more from the old
 * master; it is made read-only where it answers), choose the replica holding the most that can be
 * promoted (not errant, not stopped on an error, not behind what was acknowledged), let only it
 * apply what it received, promote it, re-point the rest. A candidate that cannot apply is given
 * up for the next. Begun by the loop (a dead master) or an operator (`failover`).
 */
export const failover: OperationSpec<'failover'> = {
  kinds: ['failover'],
  begunBy: 'the loop, when the master is dead (failover.md) or the service has none and a replica can be promoted; `failover`',
  phases: [
    {
      name: 'fence_replicas',
      does: "the replicas stop their IO threads (nothing more from the old master); the old master is made `read_only` if it answers (records `fenced`)",
      decide: (s, op) => {
        if (reached(op, 'fenced')) return null;
        const ids = answering(s).map((n) => n.id);
        const oldMasterId = op.params.oldMasterId;
        return {
          reason: `failover: fencing ${oldMasterId ?? 'the lost master'}: ${list(ids) || 'no replica'} stop${ids.length === 1 ? 's' : ''} receiving from it`,
          step: { kind: 'fence_replicas', oldMasterId, ids, oldMasterAnswers: s.nodes.some((n) => n.id === oldMasterId && n.reachable) },
        };
      },
    },
    {
      name: 'choose',
      does: 'choose the replica holding the most (received, else applied) that is not errant, not stopped on an error, and holds every acknowledged transaction (records `chosen`)',
      decide: (s, op) => (reached(op, 'chosen') ? null : choose(s, op)),
    },
    {
      name: 'drain',
      does: 'the candidate, only, applies what it received, bounded (records `drained`); one that cannot is given up for the next',
      decide: (s, op) => {
        if (reached(op, 'drained')) return null;
        const id = op.params.candidateId;
        // A failover recorded without its candidate (begun by an older version): choose one now.
        if (id === undefined) return choose(s, op);
        if (op.attempts > 0) return { reason: `failover: ${id} could not apply what it received (${s.lastError ?? 'no reason given'}): choosing another`, step: { kind: 'reject_candidate', id } };
        return { reason: `failover: letting ${id} apply its relay log`, step: { kind: 'drain', ids: [id] } };
      },
    },
    {
      name: 'promote',
      does: 'promote the candidate (records `promoted` and its GTID)',
      decide: (s, op) => {
        if (reached(op, 'promoted')) return null;
        if (op.params.candidateId === undefined) return choose(s, op);
        const candidate = s.nodes.find((n) => n.id === op.params.candidateId);
        const gtid = candidate?.gtidApplied ? formatGtidPosition(candidate.gtidApplied) : '';
        return {
          reason: `failover: promoting ${op.params.candidateId} (GTID ${gtid || 'empty'})`,
          step: { kind: 'promote_failover', candidateId: op.params.candidateId, oldMasterId: op.params.oldMasterId, gtid },
        };
      },
    },
    {
      name: 'repoint',
      does: 'point the other replicas that can follow at the new master (records `repointed`); the others are replaced once it ends',
      decide: (s, op) => {
        if (reached(op, 'repointed')) return null;
        const candidateId = op.params.candidateId!;
        const ids = followers(s, op).map((n) => n.id);
        return { reason: `failover: re-pointing ${list(ids) || 'no replica'} to ${candidateId}`, step: { kind: 'repoint', masterId: candidateId, ids } };
      },
    },
  ],
  done: (s, op) => {
    const { candidateId, oldMasterId, gtid, lost } = op.params;
    const ids = followers(s, op).map((n) => n.id);
    const old = oldMasterId ? `; ${oldMasterId} is kept read-only until it rejoins or is replaced` : '';
    return {
      reason: `promoted ${candidateId}: most advanced GTID ${gtid || 'empty'}${ids.length > 0 ? `, ${list(ids)} re-pointed` : ''}${old}${lost ? `; ${lost} given up (forced)` : ''}`,
      step: { kind: 'finish', state: 'RUNNING', error: null },
      // An automatic failover blocks the next one for a while (anti-flapping); an operator's does not. A master serves: no outage any more.
      service: { ...(op.params.automatic ? { failoverBlockedUntil: s.now + s.failover.blockSeconds * 1000 } : {}), ...(s.outageSince ? { outageSince: null } : {}) },
    };
  },
  ends: '`RUNNING`; an automatic failover blocks the next automatic one (`--failover-block-seconds`)',
  abandon: (_s, _op, error) => ({ reason: 'failover abandoned: the service needs an operator', step: { kind: 'finish', state: 'ERROR', error } }),
  undoes: '`ERROR`, with the reason and the ways out; from there the loop promotes a replica on its own as soon as one can be, or an operator does (`failover NODE`, with `force` to accept a loss)',
  records: { fence_replicas: 'fenced', choose_candidate: 'chosen', drain: 'drained', promote_failover: 'promoted', repoint: 'repointed' },
  // A candidate that cannot apply is given up for the next one at once.
  attemptsAllowed: (_s, op) => (op.phase === 'chosen' ? Number.POSITIVE_INFINITY : 3),
};

/**
 * The choice of a candidate: the replica holding the most that can be promoted, when it holds every
 * acknowledged transaction (or an operator forced it); else the failover ends with the reason and
 * the ways out.
 */
function choose(s: Snapshot, op: FailoverOp) {
  const { best, refused } = chooseCandidate(s, op);
  const from = op.params.oldMasterId ?? 'the lost master';
  if (!best) {
    const why = refused.length > 0 ? refused.join('; ') : 'no replica answers';
    return { reason: `failover: no replica can be promoted (${why})`, step: { kind: 'abort' as const, error: `failover from ${from} abandoned: no replica can be promoted (${why}); ${waysOut(s)}` }, refusal: 'no_candidate' as const };
  }
  const required = requiredPosition(s);
  const held = heldPosition(best);
  if (!gtidContains(held, required)) {
    const lost = `${missingCount(held, required)} (from ${shown(held)} to ${shown(required)})`;
    if (!op.params.force) {
      return {
        reason: `failover refused: ${best.id}, the most advanced replica that can be promoted, holds ${shown(held)} but transactions up to ${shown(required)} were acknowledged`,
        step: { kind: 'abort' as const, error: `failover from ${from} refused: promoting ${best.id} would lose ${lost}; ${waysOut(s)}` },
        refusal: 'would_lose_transactions' as const,
      };
    }
    return { reason: `failover: ${best.id} chosen by force; it gives up ${lost}`, step: { kind: 'choose_candidate' as const, candidateId: best.id, lost } };
  }
  const not = refused.length > 0 ? `; not ${refused.join('; ')}` : '';
  return { reason: `failover: choosing ${best.id}, which holds the most (GTID ${shown(held)})${not}`, step: { kind: 'choose_candidate' as const, candidateId: best.id, lost: null } };
}

/** The live replicas that follow the new master after a failover: all but the candidate and those that cannot follow. */
function followers(s: Snapshot, op: FailoverOp): NodeView[] {
  return liveReplicas(s.nodes).filter((n) => n.id !== op.params.candidateId && promotable(n));
}
