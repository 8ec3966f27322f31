import { compareGtidPositions, formatGtidPosition, type GtidPosition } from '../../protocol/gtid.js';
import { masterOf, type NodeView, type Snapshot } from './model.js';

/**
 * Named diagnoses of a replica (after orchestrator's analysis names), each with the facts its
 * sentence and its repair need. Pure. The repairs, in order of cost (idle.ts): restart the
 * server, restart replication after a transient error, re-point, re-provision (replace).
 */
export type ReplicaDiagnosis =
  | { name: 'ReplicaHealthy' }
  /** Its agent does not answer. */
  | { name: 'ReplicaUnreachable' }
  /** Its agent answers; its server is down (crashed, stopped). */
  | { name: 'ReplicaServerDown' }
  /** Its agent answers; its server process runs but does not answer it (frozen, overloaded, recovering). */
  | { name: 'ReplicaServerSilent' }
  /** It follows no master, or another node than the master, or both threads are stopped with no error. */
  | { name: 'ReplicaNotReplicating'; why: string }
  /** A thread stopped on an error; `transient` errors are retried, the others need a fresh copy. */
  | { name: 'ReplicationBroken'; thread: 'IO' | 'SQL'; errno: number; error: string; transient: boolean }
  /** It holds transactions its master never had (written on it directly). */
  | { name: 'ReplicaErrant'; gtids: string }
  /** It applies, but too far behind to serve reads. */
  | { name: 'ReplicaLagging'; seconds: number };

/**
 * Error numbers after which replication is simply started again: lost or refused connections,
 * lock waits and deadlocks. Any other error (1062 duplicate key, 1032 row not found, 1146 no such
 * table, 1950 out-of-order GTID, 1236 a position the master does not have…) means the replica's
 * data or history parted from its master's: only a fresh copy mends it.
 */
export const TRANSIENT_ERRNOS: ReadonlySet<number> = new Set([
  1040, // too many connections
  1045, // access denied (a password change still travelling)
  1158, 1159, 1160, 1161, // network errors reading or writing a packet
  1205, // lock wait timeout
  1213, // deadlock
  2003, // cannot connect
  2005, // unknown host
  2006, // server gone away
  2013, // lost connection
]);

/** Seconds of lag past which a replica takes no reads (the router's default, `--max-lag`). */
export const READ_LAG_LIMIT_SECONDS = 10;

/**
 * The transactions a replica wrote itself beyond what it applied from replication: in some
 * domain, the last GTID of its binary log carries its own server_id and a sequence number past
 * its `gtid_slave_pos`. A replica that was a master once keeps its old GTIDs only up to the
 * position it was re-attached at (`gtid_slave_pos` then), so they do not count. Empty when none.
 */
export function errantGtids(n: NodeView): GtidPosition {
  const binlog = n.gtidBinlog ?? [];
  const slave = n.gtidSlave ?? [];
  return binlog.filter((g) => g.server === n.serverId && g.seq > (slave.find((x) => x.domain === g.domain)?.seq ?? 0));
}

/** The diagnosis of one replica against the master it should follow. */
export function diagnoseReplica(n: NodeView, masterId: string): ReplicaDiagnosis {
  if (!n.reachable) return { name: 'ReplicaUnreachable' };
  if (!n.mysqlRunning) return n.mysqlSilent ? { name: 'ReplicaServerSilent' } : { name: 'ReplicaServerDown' };
  const errant = errantGtids(n);
  if (errant.length > 0) return { name: 'ReplicaErrant', gtids: formatGtidPosition(errant) };
  if (n.sqlErrno !== null && n.sqlErrno !== 0 && n.sqlRunning !== 'Yes') {
    return { name: 'ReplicationBroken', thread: 'SQL', errno: n.sqlErrno, error: n.replicationError, transient: TRANSIENT_ERRNOS.has(n.sqlErrno) };
  }
  if (n.ioErrno !== null && n.ioErrno !== 0 && n.ioRunning === 'No') {
    return { name: 'ReplicationBroken', thread: 'IO', errno: n.ioErrno, error: n.replicationError, transient: TRANSIENT_ERRNOS.has(n.ioErrno) };
  }
  if (n.replicatingFrom === null) return { name: 'ReplicaNotReplicating', why: 'it follows no master' };
  if (n.replicatingFrom !== masterId) return { name: 'ReplicaNotReplicating', why: `it follows ${n.replicatingFrom}, not ${masterId}` };
  if (n.ioRunning === 'No' || n.sqlRunning === 'No') return { name: 'ReplicaNotReplicating', why: `its ${n.ioRunning === 'No' ? 'IO' : 'SQL'} thread is stopped` };
  if (n.lagSeconds !== null && n.lagSeconds > READ_LAG_LIMIT_SECONDS) return { name: 'ReplicaLagging', seconds: n.lagSeconds };
  return { name: 'ReplicaHealthy' };
}

/** True when the replica may take reads: healthy (its lag within the read limit). */
export function servesReads(d: ReplicaDiagnosis): boolean {
  return d.name === 'ReplicaHealthy';
}

/** The diagnosis in words, for the events, get_node_info and the service's diagnosis. */
export function describeReplica(id: string, d: ReplicaDiagnosis): string {
  switch (d.name) {
    case 'ReplicaHealthy':
      return `${id} replicates`;
    case 'ReplicaUnreachable':
      return `${id} does not answer`;
    case 'ReplicaServerDown':
      return `${id}'s mariadbd is down`;
    case 'ReplicaServerSilent':
      return `${id}'s mariadbd runs but does not answer`;
    case 'ReplicaNotReplicating':
      return `${id} does not replicate: ${d.why}`;
    case 'ReplicationBroken':
      return `${id}'s replication is broken: ${d.thread} error ${d.errno}${d.transient ? ' (transient)' : ''}`;
    case 'ReplicaErrant':
      return `${id} holds errant transactions (${d.gtids}) its master never had`;
    case 'ReplicaLagging':
      return `${id} lags ${d.seconds} s behind`;
  }
}

/**
 * May this replica be promoted in a failover? Not when it holds errant transactions, nor when its
 * SQL thread stopped on an error (what it received would never be applied), nor when it is down
 * or silent.
 */
export function promotable(n: NodeView): boolean {
  return n.reachable && n.mysqlRunning && errantGtids(n).length === 0 && !(n.sqlErrno !== null && n.sqlErrno !== 0 && n.sqlRunning !== 'Yes');
}

/** What a replica holds and will hold once it applied its relay log: what it received, else what it applied. */
export function heldPosition(n: NodeView): GtidPosition {
  const received = n.gtidReceived ?? [];
  const applied = n.gtidApplied ?? [];
  return compareGtidPositions(received, applied) === 'ahead' ? received : applied;
}

/**
 * One node's condition in words and whether it takes reads now, from a snapshot: the master's
 * (serving, or how many checks it failed), a replica's diagnosis against the master, or where the
 * node is in its life. Null words for a node the snapshot does not hold.
 */
export function nodeCondition(s: Snapshot, id: string): { diagnosis: string | null; servesReads: boolean } {
  const n = s.nodes.find((x) => x.id === id);
  if (!n) return { diagnosis: null, servesReads: false };
  const master = masterOf(s.nodes);
  if (n.role === 'master' && n.status === 'ready') {
    if (n.failedChecks > 0) return { diagnosis: `${id} is the master; it failed ${n.failedChecks} check${n.failedChecks === 1 ? '' : 's'} in a row`, servesReads: false };
    return { diagnosis: `${id} is the master and serves`, servesReads: false };
  }
  if (n.role === 'replica' && n.status === 'ready') {
    const d = diagnoseReplica(n, master?.status === 'ready' ? master.id : (n.replicatingFrom ?? ''));
    return { diagnosis: describeReplica(id, d), servesReads: master?.status === 'ready' && servesReads(d) };
  }
  const life: Record<string, string> = {
    creating: 'is being created',
    created: 'is being provisioned',
    removing: 'is being removed',
    failed: n.role === 'master' ? 'is the lost master' : 'is a former master, fenced',
    rejoining: 'is rejoining as a replica',
    ready: 'is ready',
  };
  return { diagnosis: `${id} ${life[n.status] ?? n.status}`, servesReads: false };
}
