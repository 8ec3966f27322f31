import { list } from '../words.js';
import type { OperationSpec } from './spec.js';

/** remove_nodes: destroy the replicas the API marked `removing`. */
export const shrink: OperationSpec<'remove_nodes'> = {
  kinds: ['remove_nodes'],
  begunBy: '`remove_nodes` (by id, or the newest `n`; never the master)',
  phases: [
    {
      name: 'destroy',
      does: 'destroy the nodes marked `removing`',
      decide: (s) => {
        const ids = s.nodes.filter((n) => n.status === 'removing').map((n) => n.id);
        return ids.length > 0 ? { reason: `remove_nodes: destroying ${list(ids)}`, step: { kind: 'destroy_nodes', ids } } : null;
      },
    },
  ],
  done: (_s, op) => ({ reason: `remove_nodes complete: removed ${list(op.params.ids)}`, step: { kind: 'finish', state: 'RUNNING', error: null } }),
  ends: '`RUNNING`',
  abandon: (_s, op, error) => ({ reason: `${op.kind} abandoned: some nodes could not be destroyed`, step: { kind: 'finish', state: 'ERROR', error } }),
  undoes: '`ERROR` (a node that could not be destroyed needs an operator)',
};
