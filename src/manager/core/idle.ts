import { diagnoseMaster } from './diagnose.js';
import { liveReplicas, type Decision, type Snapshot } from './model.js';
import { list, them } from './words.js';

/**
 * No operation under way: watch the master, clean up after failures, set a new password, keep
 * the service at its size. Each named diagnosis has its decision; decisions not to act that a
 * user must see are `notable` (kept in the events).
 */
export function decideIdle(s: Snapshot): Decision {
  if (s.state !== 'RUNNING' && s.state !== 'ERROR') return { reason: `service ${s.state}: nothing to do`, step: null };
  const gone = s.nodes.filter((n) => n.role === 'replica' && !n.alive && (n.status === 'ready' || n.status === 'failed' || n.status === 'rejoining'));
  if (gone.length > 0) {
    const ids = gone.map((n) => n.id);
    return { reason: `${list(ids)} vanished from the cloud: dropping ${them(ids)} from the registry`, step: { kind: 'forget_nodes', ids } };
  }
  const d = diagnoseMaster(s);
  switch (d.name) {
    case 'NoMaster':
      if (s.state === 'RUNNING') return { reason: 'the service has no master', step: { kind: 'finish', state: 'ERROR', error: 'the service has no master' } };
      return { reason: `service ERROR: ${s.lastError ?? 'no master'}`, step: null };
    case 'MasterSuspect':
      return { reason: `master ${d.master.id} failed ${d.master.failedChecks} of ${s.failover.checks} checks: watching it`, step: null };
    case 'MasterUnreachableFromManager':
      return { reason: `failover refused: replicas still connected to ${d.master.id} (${list(d.connected)}); master ${d.master.id} unreachable from manager`, step: null, notable: true };
    case 'DeadMasterNoHealthyReplica':
      return { reason: `master ${d.master.id} is unreachable and no replica answers (${list(d.replicas)}): nothing to promote`, step: null, notable: true };
    case 'DeadMasterNoReplica':
      return d.master.alive
        ? d.master.reachable
          ? { reason: `master ${d.master.id}'s mariadbd is down and there is no replica to promote: restarting it`, step: { kind: 'restart_master', id: d.master.id, recreate: false } }
          : { reason: `master ${d.master.id} does not answer and there is no replica to promote: waiting for it`, step: null, notable: true }
        : { reason: `master ${d.master.id} is gone and there is no replica to promote: restarting its node`, step: { kind: 'restart_master', id: d.master.id, recreate: true } };
    case 'DeadMaster': {
      const who = `master ${d.master.id} unreachable from manager and replicas (${list(d.confirmedBy)} lost it)`;
      if (!s.failover.enabled) return { reason: `${who}: automatic failover is off; run a manual failover`, step: null, notable: true };
      if (s.failover.blockedUntil !== null && s.now < s.failover.blockedUntil) {
        return { reason: `${who}: failover refused: blocked until ${new Date(s.failover.blockedUntil).toISOString()} after the last one; acknowledge_failover lifts the block`, step: null, notable: true };
      }
      return { reason: `${who}: failing over`, step: { kind: 'begin_failover', oldMasterId: d.master.id } };
    }
    case 'MasterHealthy':
      break;
  }
  const master = d.master;
  if (s.passwordPending && s.state === 'RUNNING') return { reason: 'a new password for the service user is waiting: setting it', step: { kind: 'begin_set_password' } };
  // A former master: bring its server back (read-only), then re-attach it or replace it.
  for (const n of s.nodes.filter((x) => x.status === 'failed' && x.alive)) {
    if (!n.reachable) return { reason: `${n.id} (former master) does not answer: waiting for it`, step: null, notable: true };
    if (!n.mysqlRunning) return { reason: `${n.id} (former master) is down: restarting its mariadbd, read-only`, step: { kind: 'restart_mysqld', id: n.id } };
    return { reason: `${n.id} (former master) is back, read-only: re-attaching it to ${master.id}`, step: { kind: 'rejoin', id: n.id, masterId: master.id } };
  }
  for (const n of s.nodes.filter((x) => x.status === 'rejoining' && x.alive && x.reachable)) {
    if (n.replicationError !== '' || n.ioRunning === 'No' || n.sqlRunning === 'No') {
      const why = n.replicationError || 'replication stopped';
      return { reason: `${n.id} cannot rejoin ${master.id} (${why}): its history diverged (errant transactions); replacing it`, step: { kind: 'destroy_nodes', ids: [n.id] } };
    }
    if (n.ioRunning === 'Yes' && n.sqlRunning === 'Yes') return { reason: `${n.id} rejoined as a replica of ${master.id}`, step: { kind: 'mark_ready', id: n.id } };
  }
  const replicas = s.nodes.filter((n) => n.role === 'replica' && n.status !== 'removing');
  if (replicas.length < s.desiredReplicas) {
    const missing = s.desiredReplicas - replicas.length;
    return { reason: `the service has ${replicas.length} of ${s.desiredReplicas} replicas: provisioning ${missing} to replace what was lost`, step: { kind: 'begin_replacement', count: missing } };
  }
  const ready = liveReplicas(s.nodes);
  return { reason: `service ${s.state}: master ${master.id}, ${ready.length} replica${ready.length === 1 ? '' : 's'}`, step: null };
}
