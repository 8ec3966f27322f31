import { list } from '../words.js';
import type { OperationSpec } from './spec.js';

/** shutdown: destroy every node; the credentials stay, so startup can begin again. */
export const shutdown: OperationSpec<'shutdown'> = {
  kinds: ['shutdown'],
  begunBy: '`shutdown`',
  phases: [
    {
      name: 'destroy',
      does: 'destroy every node',
      decide: (s) => {
        const ids = s.nodes.map((n) => n.id);
        return ids.length > 0 ? { reason: `shutdown: destroying ${list(ids)}`, step: { kind: 'destroy_nodes', ids } } : null;
      },
    },
  ],
  done: () => ({ reason: 'shutdown complete: every node destroyed', step: { kind: 'finish', state: 'STOPPED', error: null } }),
  ends: '`STOPPED`',
  abandon: (_s, op, error) => ({ reason: `${op.kind} abandoned: some nodes could not be destroyed`, step: { kind: 'finish', state: 'ERROR', error } }),
  undoes: '`ERROR` (a node that could not be destroyed needs an operator)',
};
