import { countedReplicas, masterOf, nodeId, replicasOf, type Decision, type NewNode, type Snapshot } from '../model.js';
import { list } from '../words.js';
import { snapshotDonor } from '../backup-plan.js';
import type { OperationOf } from '../../../protocol/operations.js';
import type { OperationSpec } from './spec.js';

type Grow = 'startup' | 'add_nodes';

/** New replica records for the `missing` replicas, numbered from `seq`. */
function newReplicas(seq: number, missing: number): NewNode[] {
  return Array.from({ length: missing }, (_, i) => ({ id: nodeId(seq + i), role: 'replica' as const, serverId: seq + i }));
}

function vanished(kind: Grow, masterId: string): Decision {
  return { reason: `${kind}: the master ${masterId} vanished`, step: { kind: 'abort', error: `the master ${masterId} vanished during ${kind}` } };
}

/** A startup that makes a new service (not a restore): every node it makes starts as a new, empty server. */
function isFreshStartup(op: OperationOf<Grow>): boolean {
  return op.kind === 'startup' && !op.params.restore;
}

/** The replicas that are ready, for the number the service wants after an abandoned growth. */
function readyReplicas(s: Snapshot): number {
  return s.nodes.filter((n) => n.role === 'replica' && n.status === 'ready').length;
}

/**
 * startup and add_nodes (an operator's, or a replacement after a loss): bring the service to one
 * master and `desiredReplicas` replicas. Its phases look at the registry, not at a recorded
 * phase: each is done when the nodes say so, so a restarted manager resumes where it stood.
 */
export const grow: OperationSpec<Grow> = {
  kinds: ['startup', 'add_nodes'],
  begunBy: '`startup`, `add_nodes`, and the loop when the service has fewer replicas than it should (a replacement)',
  phases: [
    {
      name: 'register',
      does: 'register the master (startup) and the missing replicas: ids `node-<n>`, server ids `n`',
      decide: (s, op) => {
        const master = masterOf(s.nodes);
        if (!master) {
          const nodes: NewNode[] = [{ id: nodeId(s.nextSeq), role: 'master', serverId: s.nextSeq }, ...newReplicas(s.nextSeq + 1, s.desiredReplicas)];
          return { reason: `${op.kind}: registering ${list(nodes.map((n) => n.id))} (master ${nodes[0]!.id})`, step: { kind: 'register_nodes', nodes } };
        }
        // A master that was ready and is gone: nothing to grow from (no machine is started for nothing).
        if (master.status === 'ready' && !master.alive) return vanished(op.kind, master.id);
        const missing = s.desiredReplicas - countedReplicas(s.nodes).length;
        if (missing <= 0) return null;
        const nodes = newReplicas(s.nextSeq, missing);
        return { reason: `${op.kind}: ${missing} more replica${missing > 1 ? 's' : ''} wanted: registering ${list(nodes.map((n) => n.id))}`, step: { kind: 'register_nodes', nodes } };
      },
    },
    {
      name: 'create',
      does: 'create every registered node through the cloud driver, in parallel; at startup (not a restore), each node\'s new server is made (`init_server`) as soon as its own agent answers, while the others are still starting',
      decide: (s, op) => {
        const ids = s.nodes.filter((n) => n.status === 'creating').map((n) => n.id);
        if (ids.length === 0) return null;
        // A new service's nodes all start as new servers (start_master, init_replicas): no need
        // to wait for the slowest machine before making the first one's.
        if (isFreshStartup(op)) return { reason: `${op.kind}: creating ${list(ids)}, each starting its new server once it answers`, step: { kind: 'create_nodes', ids, initServers: ids } };
        return { reason: `${op.kind}: creating ${list(ids)}`, step: { kind: 'create_nodes', ids } };
      },
    },
    {
      name: 'start_master',
      does: 'start the master: `init_server`, `configure_master`, the service\'s accounts (at startup, the new replicas\' `init_server` at the same time); with `restore`, `restore_from_backup`: the backup, then the archived binary logs to the target time (issue #16)',
      decide: (s, op) => {
        const master = masterOf(s.nodes)!;
        const restore = op.kind === 'startup' ? op.params.restore : undefined;
        if (master.status === 'created' && restore) {
          const to = restore.until ? `every transaction written by ${restore.until}` : 'the end of the archive';
          return { reason: `${op.kind}: building ${master.id} from backup ${restore.backup}, then the archived binary logs to ${to}`, step: { kind: 'restore_from_backup', id: master.id, plan: restore } };
        }
        if (master.status === 'created') {
          // A new service's replicas are made as new servers too: at the same time as the master.
          const fresh = isFreshStartup(op) ? replicasOf(s.nodes).filter((n) => n.status === 'created').map((n) => n.id) : [];
          if (fresh.length > 0) return { reason: `${op.kind}: starting ${master.id} as the master, and ${list(fresh)} as new servers beside it`, step: { kind: 'start_master', id: master.id, initReplicas: fresh } };
          return { reason: `${op.kind}: starting ${master.id} as the master`, step: { kind: 'start_master', id: master.id } };
        }
        return master.alive ? null : vanished(op.kind, master.id);
      },
    },
    {
      name: 'provision',
      does: 'provision every new replica in parallel: `provision_from` one snapshot of a caught-up replica (the master when there is none), read once for all of them, each attached to the master at the snapshot\'s GTID position; at startup (not a restore), `init_replicas`: new servers that replicate the new master from its first transaction, no snapshot',
      decide: (s, op) => {
        const master = masterOf(s.nodes)!;
        const ids = replicasOf(s.nodes)
          .filter((n) => n.status === 'created')
          .map((n) => n.id);
        if (ids.length === 0) return null;
        // A new service's master holds only what its binary log holds since it was made: its
        // replicas start from the same empty server and replicate from the first transaction.
        if (isFreshStartup(op)) {
          return { reason: `${op.kind}: starting ${list(ids)} as new servers replicating ${master.id} from its first transaction (no snapshot of a new master)`, step: { kind: 'init_replicas', ids, masterId: master.id } };
        }
        const donor = snapshotDonor(s, master.id);
        const from = donor === master.id ? master.id : `${donor} (a caught-up replica: the master's writes untouched), attached to ${master.id}`;
        return { reason: `${op.kind}: provisioning ${list(ids)} from a snapshot of ${from}`, step: { kind: 'provision', ids, masterId: master.id, donorId: donor } };
      },
    },
  ],
  done: (s, op) => {
    const master = masterOf(s.nodes)!;
    const ready = replicasOf(s.nodes)
      .filter((n) => n.status === 'ready')
      .map((n) => n.id);
    return {
      reason: `${op.kind} complete: master ${master.id}${ready.length > 0 ? `, replica${ready.length > 1 ? 's' : ''} ${list(ready)}` : ', no replica'}`,
      step: { kind: 'finish', state: 'RUNNING', error: null },
    };
  },
  ends: '`RUNNING`',
  abandon: (s, op, error) => {
    const unfinished = s.nodes.filter((n) => n.status === 'creating' || n.status === 'created').map((n) => n.id);
    if (unfinished.length > 0) return { reason: `${op.kind} abandoned: destroying the unfinished ${list(unfinished)}`, step: { kind: 'destroy_nodes', ids: unfinished } };
    // An abandoned growth wants no more than what was made.
    const service = { desiredReplicas: readyReplicas(s) };
    return masterOf(s.nodes)?.alive
      ? { reason: `${op.kind} abandoned; the service runs on with what was ready`, step: { kind: 'finish', state: 'RUNNING', error }, service }
      : { reason: `${op.kind} abandoned; the service has no master`, step: { kind: 'finish', state: 'ERROR', error }, service };
  },
  undoes: 'destroy the nodes not yet provisioned; `RUNNING` with what was ready (the wanted number of replicas lowered to it), or `ERROR` without a master',
};
