import type { ParamsByKind } from '../protocol/operations.js';
import type { ServiceState } from '../protocol/service-states.js';
import type { EndedOperation, NodeRecord, StateStore } from '../store/store.js';
import { AppError } from '../util/errors.js';
import { liveReplicas, masterOf, type Snapshot } from './core/model.js';
import { SWITCHOVER_MAX_LAG_SECONDS, switchoverRefusal } from './core/operations/switchover.js';

/** An operation to begin: its kind, parameters, the state the service goes to, and the event that says who asked. */
export type Begin =
  | { kind: 'failover'; params: ParamsByKind['failover']; state: ServiceState; event: string }
  | { kind: 'switchover'; params: ParamsByKind['switchover']; state: ServiceState; event: string | null }
  | { kind: 'attach'; params: ParamsByKind['attach']; state: ServiceState; event: string | null }
  | { kind: 'remove_nodes'; params: ParamsByKind['remove_nodes']; state: ServiceState; event: string | null }
  | { kind: 'shutdown'; params: ParamsByKind['shutdown']; state: ServiceState; event: string | null };

/**
 * A planned switchover to `candidate`, checked before anything is recorded: refused (WRONG_STATE,
 * naming the reason) when the last snapshot shows it cannot take over without holding writes
 * blocked for long: not replicating from `master`, stopped on an error, errant, or more than
 * `maxLagSeconds` behind. The operation checks again on a fresh snapshot before it blocks writes.
 */
export function planSwitchover(latest: Snapshot | null, candidate: NodeRecord, master: NodeRecord, maxLagSeconds: number | undefined): Begin {
  const view = latest?.nodes.find((x) => x.id === candidate.id);
  if (view) {
    const why = switchoverRefusal(view, master.id, maxLagSeconds ?? SWITCHOVER_MAX_LAG_SECONDS);
    if (why !== null) throw new AppError('WRONG_STATE', `set_up_replica_master: refused before any write was blocked: ${why}`, { details: { node: candidate.id } });
  }
  return {
    kind: 'switchover',
    params: { candidateId: candidate.id, oldMasterId: master.id, ...(maxLagSeconds !== undefined ? { maxLagSeconds } : {}) },
    state: 'ADAPTING',
    event: null,
  };
}

/**
 * A failover an operator orders: from the master in service, or, in ERROR, from the master that
 * was lost (or none). `named`: the replica to promote (it must be a ready replica); `force`:
 * promote even if acknowledged transactions are lost (the loss is reported). WRONG_STATE when the
 * master is still being created or no replica is in service; INVALID_PARAMS for a named node that
 * is not a ready replica.
 */
export function planFailover(store: StateStore, named: NodeRecord | null, force: boolean): Begin {
  const nodes = store.nodes();
  const m = masterOf(nodes);
  if (m && m.status !== 'ready') throw new AppError('WRONG_STATE', `failover: the master ${m.id} is ${m.status}; wait until it is ready`);
  if (named && (named.role !== 'replica' || named.status !== 'ready')) throw new AppError('INVALID_PARAMS', `failover: ${named.id} is not a ready replica (it is ${named.role === 'master' ? 'the master' : named.status})`);
  if (liveReplicas(nodes).length === 0) throw new AppError('WRONG_STATE', 'failover: there is no replica in service to promote; bring a node back or re-attach one (set_up_replica_slave)');
  const oldMasterId = m?.id ?? nodes.find((n) => n.role === 'master' && n.status === 'failed')?.id ?? null;
  const from = oldMasterId ? ` from ${oldMasterId}` : '';
  return {
    kind: 'failover',
    params: { oldMasterId, automatic: false, ...(named ? { preferred: named.id } : {}), ...(force ? { force: true } : {}) },
    state: 'ADAPTING',
    event: `failover ordered by an operator${from}${named ? ` to ${named.id}` : ''}${force ? ', accepting a loss of acknowledged transactions if it must' : ''}`,
  };
}

/**
 * The last abandoned operation, begun again from its start with what the operator asked for
 * (what it learnt on the way, such as a failover's rejected candidates, is forgotten). WRONG_STATE
 * when nothing was abandoned or the service is no longer as it needs; INVALID_PARAMS for a kind
 * that is asked for again rather than retried (startup, add_nodes, set_password).
 */
export function planRetry(store: StateStore, last: EndedOperation | null): Begin {
  if (!last || last.outcome !== 'failed') {
    throw new AppError('WRONG_STATE', `retry: nothing to retry: ${last ? `the last operation (${last.kind}) succeeded` : 'no operation has ended yet'}`);
  }
  const event = `retry of the abandoned ${last.kind}, asked by an operator`;
  switch (last.kind) {
    case 'failover': {
      const { oldMasterId, preferred, force } = last.params;
      const named = preferred ? store.node(preferred) : null;
      if (preferred && !named) throw new AppError('WRONG_STATE', `retry: the failover named ${preferred}, which is no longer in the service`);
      return { ...planFailover(store, named, force === true), event: `${event}${oldMasterId ? ` (from ${oldMasterId})` : ''}` };
    }
    case 'switchover': {
      const m = masterOf(store.nodes());
      const candidate = store.node(last.params.candidateId);
      if (!m || m.status !== 'ready' || m.id !== last.params.oldMasterId || !candidate) {
        throw new AppError('WRONG_STATE', `retry: the switchover from ${last.params.oldMasterId} to ${last.params.candidateId} no longer applies (the master is ${m?.id ?? 'none'}); call set_up_replica_master`);
      }
      return { kind: 'switchover', params: last.params, state: 'ADAPTING', event };
    }
    case 'attach':
      if (!store.node(last.params.id)) throw new AppError('WRONG_STATE', `retry: ${last.params.id} is no longer in the service`);
      return { kind: 'attach', params: last.params, state: 'ADAPTING', event };
    case 'remove_nodes':
      return { kind: 'remove_nodes', params: { ids: last.params.ids.filter((id) => store.node(id) !== null) }, state: 'ADAPTING', event };
    case 'shutdown':
      return { kind: 'shutdown', params: {}, state: 'EPILOGUE', event };
    default:
      throw new AppError('INVALID_PARAMS', `retry: ${last.kind} is not retried; call ${last.kind} again`);
  }
}
