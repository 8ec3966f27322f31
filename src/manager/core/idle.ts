import { formatGtidPosition, gtidContains } from '../../protocol/gtid.js';
import { diagnoseMaster } from './diagnose.js';
import { countedReplicas, liveReplicas, masterOf, MAX_REPAIRS, REPLACE_AFTER_CHECKS, type Decision, type NodeView, type Snapshot } from './model.js';
import { chooseCandidate, requiredPosition } from './operations/failover.js';
import { describeReplica, diagnoseReplica, heldPosition } from './replicas.js';
import { list, them } from './words.js';

/**
 * No operation under way: watch the master and every replica, repair what can be repaired, set a
 * new password, keep the service at its size, and get out of ERROR on its own when it can. Each
 * named diagnosis has its decision; decisions not to act that a user must see are `notable`
 * (kept in the events).
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
      return withoutMaster(s);
    case 'MasterSuspect':
      return { reason: `master ${d.master.id} failed ${d.master.failedChecks} of ${s.failover.checks} checks: watching it`, step: null };
    case 'MasterUnreachableFromManager':
      return { reason: `failover refused: replicas still connected to ${d.master.id} (${list(d.connected)}); master ${d.master.id} unreachable from manager`, step: null, notable: true, refusal: 'replicas_connected' };
    case 'DeadMasterNoHealthyReplica': {
      if (s.outageSince === null || s.outageSince === undefined) {
        const pos = s.lastMasterPosition && s.lastMasterPosition.length > 0 ? formatGtidPosition(s.lastMasterPosition) : 'unknown';
        return {
          reason: `every node is down (master ${d.master.id}; ${list(d.replicas)}): no node behind the last master's position (${pos}) will be promoted on its own`,
          step: { kind: 'record_outage', at: s.now },
        };
      }
      // Servers whose agents answer are started again: the master first (it has everything), else
      // the replicas (read-only; whether one may be promoted is decided once it answers).
      if (d.master.alive && d.master.reachable) {
        return { reason: `master ${d.master.id}'s mariadbd is down and no replica serves: restarting it`, step: { kind: 'restart_master', id: d.master.id, recreate: false } };
      }
      const down = liveReplicas(s.nodes).find((n) => n.reachable && !n.mysqlRunning && n.repairs < MAX_REPAIRS);
      if (down) return { reason: `${down.id}'s mariadbd is down while the master is lost: restarting it, read-only`, step: { kind: 'repair_replica', id: down.id, masterId: d.master.id, how: 'restart_server' } };
      return { reason: `master ${d.master.id} is unreachable and no replica answers (${list(d.replicas)}): nothing to promote`, step: null, notable: true };
    }
    case 'DeadMasterNoReplica':
      return d.master.alive
        ? d.master.reachable
          ? { reason: `master ${d.master.id}'s mariadbd is down and there is no replica to promote: restarting it`, step: { kind: 'restart_master', id: d.master.id, recreate: false } }
          : { reason: `master ${d.master.id} does not answer and there is no replica to promote: waiting for it`, step: null, notable: true }
        : { reason: `master ${d.master.id} is gone and there is no replica to promote: restarting its node`, step: { kind: 'restart_master', id: d.master.id, recreate: true } };
    case 'DeadMaster': {
      const who = d.byAgent
        ? `master ${d.master.id}'s mariadbd does not answer its agent (${list(d.confirmedBy)} ${d.confirmedBy.length === 1 ? 'answers' : 'answer'})`
        : `master ${d.master.id} unreachable from manager and replicas (${list(d.confirmedBy)} lost it)`;
      if (!s.failover.enabled) return { reason: `${who}: automatic failover is off; run a manual failover`, step: null, notable: true, refusal: 'disabled' };
      if (s.failover.blockedUntil !== null && s.now < s.failover.blockedUntil) {
        return { reason: `${who}: failover refused: blocked until ${new Date(s.failover.blockedUntil).toISOString()} after the last one; acknowledge_failover lifts the block`, step: null, notable: true, refusal: 'blocked' };
      }
      return { reason: `${who}: failing over`, step: { kind: 'begin_failover', oldMasterId: d.master.id } };
    }
    case 'MasterHealthy':
      break;
  }
  const master = d.master;
  if (s.outageSince !== null && s.outageSince !== undefined) return { reason: `master ${master.id} serves again: the outage is over`, step: { kind: 'clear_outage' } };
  if (s.state === 'ERROR') return { reason: `master ${master.id} serves: the service is RUNNING again`, step: { kind: 'finish', state: 'RUNNING', error: null } };
  // A master that fenced itself while cut off (or whose failover came to nothing) and is still the
  // master: no other node was promoted (only the manager promotes), so it takes writes again.
  if (master.fenced === true && s.state === 'RUNNING') {
    return { reason: `master ${master.id} was fenced (cut off from the manager and its replicas) and is still the master: it takes writes again`, step: { kind: 'unfence_master', id: master.id }, notable: true };
  }
  // While a replica receives from it, the master acknowledges nothing no replica received, even
  // cut off from all of them. When none can (none in the service, or every one stopped, down or
  // out of the manager's sight), the manager, which sees the master, lets it commit alone: the
  // service keeps taking writes, and a failover that would lose them is refused (lastMasterPosition).
  const receiving = liveReplicas(s.nodes).filter((r) => r.reachable && r.replicatingFrom === master.id && r.ioRunning !== null && r.ioRunning !== 'No');
  const wantWait = s.desiredReplicas > 0 && receiving.length > 0;
  if (master.waitNoSlave !== null && master.waitNoSlave !== undefined && master.waitNoSlave !== wantWait) {
    return wantWait
      ? { reason: `${list(receiving.map((r) => r.id))} ${receiving.length === 1 ? 'receives' : 'receive'} from ${master.id}: it acknowledges no commit that no replica received, even cut off from all of them (rpl_semi_sync_master_wait_no_slave=ON)`, step: { kind: 'set_wait_no_slave', id: master.id, on: true } }
      : {
          reason: `${s.desiredReplicas === 0 ? 'the service has no replica' : 'no replica receives from it'}: ${master.id} commits alone (rpl_semi_sync_master_wait_no_slave=OFF)`,
          step: { kind: 'set_wait_no_slave', id: master.id, on: false },
          notable: s.desiredReplicas > 0,
        };
  }
  // A replica never waits for acknowledgements of what it applies (a demoted master may still say so).
  const waiting = s.nodes.find((n) => n.role === 'replica' && n.status === 'ready' && n.waitNoSlave === true);
  if (waiting) return { reason: `${waiting.id} is a replica: it waits for no acknowledgement (rpl_semi_sync_master_wait_no_slave=OFF)`, step: { kind: 'set_wait_no_slave', id: waiting.id, on: false } };
  if (s.passwordPending && s.state === 'RUNNING') return { reason: 'a new password for the service user is waiting: setting it', step: { kind: 'begin_set_password' } };
  const notes: string[] = [];
  // The replicas that serve or are on their way back; a former master silent for longer than the
  // grace is not counted (a fresh replica takes its place; if it comes back later, it is destroyed).
  const replicas = countedReplicas(s.nodes);
  const serving = replicas.filter((n) => n.status !== 'failed');
  // A former master: bring its server back (read-only), then re-attach it, unless the service
  // already got its replicas back without it; one that does not answer is waited for.
  for (const n of s.nodes.filter((x) => x.status === 'failed' && x.alive)) {
    if (!n.reachable) {
      notes.push(`${n.id} (former master) does not answer: waiting for it`);
      continue;
    }
    if (serving.length >= s.desiredReplicas) return { reason: `${n.id} (former master) is back but the service has its ${s.desiredReplicas} replicas without it: destroying it`, step: { kind: 'destroy_nodes', ids: [n.id] } };
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
  for (const n of liveReplicas(s.nodes)) {
    const repair = repairOf(n, master.id, notes);
    if (repair) return repair;
  }
  if (replicas.length < s.desiredReplicas) {
    const missing = s.desiredReplicas - replicas.length;
    return { reason: `the service has ${replicas.length} of ${s.desiredReplicas} replicas: provisioning ${missing} to replace what was lost`, step: { kind: 'begin_replacement', count: missing } };
  }
  const ready = liveReplicas(s.nodes);
  const base = `service ${s.state}: master ${master.id}, ${ready.length} replica${ready.length === 1 ? '' : 's'}`;
  return notes.length > 0 ? { reason: `${base}; ${notes.join('; ')}`, step: null, notable: true } : { reason: base, step: null };
}

/** The repair a replica needs, in order of cost, or null (its trouble, if any, is noted in `notes`). */
function repairOf(n: NodeView, masterId: string, notes: string[]): Decision | null {
  const d = diagnoseReplica(n, masterId);
  const said = describeReplica(n.id, d);
  const replace = (why: string): Decision | null => {
    if (n.troubleChecks < REPLACE_AFTER_CHECKS) {
      notes.push(`${why}: it will be replaced by a fresh copy of ${masterId} unless it recovers (check ${n.troubleChecks} of ${REPLACE_AFTER_CHECKS})`);
      return null;
    }
    return { reason: `${why}: replacing it with a fresh copy of ${masterId}`, step: { kind: 'replace_replica', id: n.id } };
  };
  const tried = n.repairs >= MAX_REPAIRS;
  switch (d.name) {
    case 'ReplicaHealthy':
      return n.repairs > 0 ? { reason: `${n.id} is healthy again`, step: { kind: 'mark_healthy', id: n.id } } : null;
    case 'ReplicaUnreachable':
      notes.push(`${said}: waiting for it`);
      return null;
    case 'ReplicaLagging':
      notes.push(`${n.id} lags more than 10 s behind: it takes no reads`);
      return null;
    case 'ReplicaErrant':
      return replace(said);
    case 'ReplicationBroken':
      if (!d.transient || tried) return replace(`${said}${tried ? `, still after ${n.repairs} repairs` : ''}`);
      return { reason: `${said}: starting it again`, step: { kind: 'repair_replica', id: n.id, masterId, how: 'restart_replication' } };
    case 'ReplicaServerSilent':
      // A server busy recovering or overloaded answers again by itself: restarting it would only
      // start its recovery over. One silent for REPLACE_AFTER_CHECKS checks is frozen: stopped
      // (SIGKILL when SIGTERM is not heeded) and started again, read-only; each further restart
      // waits as many checks again (the trouble count runs on through the repairs).
      if (tried) return replace(`${said}, still after ${n.repairs} restarts`);
      if (n.troubleChecks < REPLACE_AFTER_CHECKS * (n.repairs + 1)) {
        notes.push(`${said}: it takes no reads; it is restarted if it stays silent (check ${n.troubleChecks} of ${REPLACE_AFTER_CHECKS * (n.repairs + 1)})`);
        return null;
      }
      return { reason: `${said}: stopping and restarting it, read-only`, step: { kind: 'repair_replica', id: n.id, masterId, how: 'stop_and_restart_server' } };
    case 'ReplicaServerDown':
      if (tried) return replace(`${said}, still after ${n.repairs} restarts`);
      return { reason: `${said}: restarting it, read-only`, step: { kind: 'repair_replica', id: n.id, masterId, how: 'restart_server' } };
    case 'ReplicaNotReplicating':
      if (tried) return replace(`${said}, still after ${n.repairs} repairs`);
      return { reason: `${said}: re-pointing it to ${masterId}`, step: { kind: 'repair_replica', id: n.id, masterId, how: 'repoint' } };
  }
}

/**
 * ERROR without a master: the master that was lost, back with every transaction, serves again;
 * else a replica that holds every acknowledged transaction is promoted; else wait, and say why.
 */
function withoutMaster(s: Snapshot): Decision {
  const required = requiredPosition(s);
  const former = s.nodes.find((n) => n.role === 'master' && n.status === 'failed');
  if (former && former.alive && former.reachable && !former.mysqlRunning && former.repairs < MAX_REPAIRS) {
    return { reason: `${former.id}, the master before the failure, answers again: starting its mariadbd, read-only, to see what it holds`, step: { kind: 'restart_mysqld', id: former.id } };
  }
  const lost = former && former.alive && former.reachable && former.mysqlRunning ? former : undefined;
  if (lost && gtidContains(heldPosition(lost), required)) {
    return { reason: `${lost.id}, the master before the failure, is back with every transaction: making it the master again`, step: { kind: 'restore_master', id: lost.id } };
  }
  const { best } = chooseCandidate(s, { params: {} });
  if (best && gtidContains(heldPosition(best), required) && s.failover.enabled) {
    return { reason: `the service has no master and ${best.id} can be promoted: failing over`, step: { kind: 'begin_failover', oldMasterId: masterOf(s.nodes)?.id ?? former?.id ?? null } };
  }
  return { reason: `service ERROR: ${s.lastError ?? 'no master'}`, step: null };
}
