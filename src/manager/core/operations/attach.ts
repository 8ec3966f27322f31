import { masterOf } from '../model.js';
import { reached, type OperationSpec } from './spec.js';

/** set_up_replica_slave: (re)attach a node to the master. */
export const attach: OperationSpec<'attach'> = {
  kinds: ['attach'],
  begunBy: '`set_up_replica_slave`',
  phases: [
    {
      name: 'master',
      does: 'make sure the service has a master to attach to',
      decide: (s) => (masterOf(s.nodes) ? null : { reason: 'set_up_replica_slave: there is no master', step: { kind: 'abort', error: 'set_up_replica_slave: the service has no master' } }),
    },
    {
      name: 'attach',
      does: '`configure_replica` on the node, towards the master (records `attached`)',
      decide: (s, op) => {
        if (reached(op, 'attached')) return null;
        const master = masterOf(s.nodes)!;
        return { reason: `set_up_replica_slave: attaching ${op.params.id} to ${master.id}`, step: { kind: 'attach', id: op.params.id, masterId: master.id } };
      },
    },
  ],
  done: (s, op) => ({ reason: `${op.params.id} replicates from ${masterOf(s.nodes)!.id}`, step: { kind: 'finish', state: 'RUNNING', error: null } }),
  ends: '`RUNNING`',
  abandon: (s, _op, error) =>
    masterOf(s.nodes)
      ? { reason: 'set_up_replica_slave abandoned', step: { kind: 'finish', state: 'RUNNING', error } }
      : { reason: 'set_up_replica_slave abandoned; the service has no master', step: { kind: 'finish', state: 'ERROR', error } },
  undoes: '`RUNNING` with the error, or `ERROR` without a master',
  records: { attach: 'attached' },
};
