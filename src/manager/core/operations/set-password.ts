import { masterOf } from '../model.js';
import type { OperationSpec } from './spec.js';

/**
 * set_password: the service user's new password (kept in the service record until it is set,
 * never in the operation) is set on the master, which its replicas follow by replication.
 */
export const setPassword: OperationSpec<'set_password'> = {
  kinds: ['set_password'],
  begunBy: '`set_password` (at once when `RUNNING`; after the operation under way otherwise)',
  phases: [
    {
      name: 'apply',
      does: "set the new password on the master (the service user's account, through its binary log)",
      decide: (s, op) => {
        if (!s.passwordPending) return null;
        const master = masterOf(s.nodes);
        if (!master || master.status !== 'ready') return { reason: 'set_password: the service has no master', step: { kind: 'abort', error: 'set_password: the service has no master' } };
        return { reason: `set_password: setting the new password of ${op.params.user} on ${master.id}`, step: { kind: 'apply_password', masterId: master.id } };
      },
    },
  ],
  done: (_s, op) => ({ reason: `set_password complete: ${op.params.user} has its new password`, step: { kind: 'finish', state: 'RUNNING', error: null } }),
  ends: '`RUNNING`',
  abandon: (s, _op, error) => ({ reason: 'set_password abandoned; the password is unchanged', step: { kind: 'finish', state: masterOf(s.nodes) ? 'RUNNING' : 'ERROR', error } }),
  undoes: 'the old password stays in force; `RUNNING` with the error',
};
