import { masterOf } from '../model.js';
import { list } from '../words.js';
import { reached, type OperationSpec } from './spec.js';

/** shutdown: destroy every node; the credentials stay, so startup can begin again. */
export const shutdown: OperationSpec<'shutdown'> = {
  kinds: ['shutdown'],
  begunBy: '`shutdown`',
  phases: [
    {
      name: 'archive',
      does: "make the master read-only and wait until the binary log archive holds everything it wrote (15 s at most; records `archived`), so a restore to the end loses no acknowledged write",
      decide: (s, op) => {
        if (reached(op, 'archived')) return null;
        const master = masterOf(s.nodes);
        if (!master || master.status !== 'ready' || !master.alive) return null;
        return { reason: `shutdown: archiving ${master.id}'s last transactions`, step: { kind: 'archive_final', masterId: master.id } };
      },
    },
    {
      name: 'destroy',
      does: 'destroy every node',
      decide: (s) => {
        const ids = s.nodes.map((n) => n.id);
        return ids.length > 0 ? { reason: `shutdown: destroying ${list(ids)}`, step: { kind: 'destroy_nodes', ids } } : null;
      },
    },
  ],
  records: { archive_final: 'archived' },
  done: () => ({ reason: 'shutdown complete: every node destroyed', step: { kind: 'finish', state: 'STOPPED', error: null } }),
  ends: '`STOPPED`',
  abandon: (_s, op, error) => ({ reason: `${op.kind} abandoned: some nodes could not be destroyed`, step: { kind: 'finish', state: 'ERROR', error } }),
  undoes: '`ERROR` (a node that could not be destroyed needs an operator)',
};
