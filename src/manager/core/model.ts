import type { NodeRole, NodeStatus } from '../../protocol/manager-api.js';
import type { Operation } from '../../protocol/operations.js';
import type { RestorePlan } from '../../protocol/restore.js';
import type { ServiceState } from '../../protocol/service-states.js';
import type { GtidPosition } from '../../protocol/gtid.js';

export type { Operation, OperationKind } from '../../protocol/operations.js';

/** What the manager knows of one node at one instant: its registry record and what was observed. */
export interface NodeView {
  /** The node's id. */
  id: string;
  /** Its role in the registry. */
  role: NodeRole;
  /** Where it is in its life. */
  status: NodeStatus;
  /** Its server_id. */
  serverId: number;
  /** The cloud driver lists the node as alive. */
  alive: boolean;
  /** The agent answered the last poll. */
  reachable: boolean;
  /** `mariadbd` is running, as its agent reports. */
  mysqlRunning: boolean;
  /** Its server's read_only; null when unknown. */
  readOnly: boolean | null;
  /** Its server's `rpl_semi_sync_master_wait_no_slave`; null or absent when unknown. */
  waitNoSlave?: boolean | null;
  /** Its agent holds its server fenced; null or absent when unknown. */
  fenced?: boolean | null;
  /**
   * Its mariadbd process runs but did not answer its agent's status read within the deadline
   * (frozen, overloaded, busy recovering): not up (`mysqlRunning` is false), yet not crashed, so
   * starting it again does nothing.
   */
  mysqlSilent: boolean;
  /** The node replicates from this node id (resolved from host:port), when it replicates. */
  replicatingFrom: string | null;
  /** Replication threads as the agent reports them (`Yes`, `No`, `Connecting`), null when not a replica. */
  ioRunning: string | null;
  /** The SQL thread (`Yes`, `No`), null when not a replica. */
  sqlRunning: string | null;
  /** The last replication error (IO or SQL), '' when none. */
  replicationError: string;
  /** GTID positions: everything applied (`gtid_current_pos`), and received (`Gtid_IO_Pos`); null when unknown. */
  gtidApplied: GtidPosition | null;
  /** What its IO thread received (`Gtid_IO_Pos`), null when not a replica. */
  gtidReceived: GtidPosition | null;
  /** The last GTID of its binary log per domain (`gtid_binlog_pos`); null when unknown. */
  gtidBinlog: GtidPosition | null;
  /** What its replication applied (`gtid_slave_pos`); null when unknown. */
  gtidSlave: GtidPosition | null;
  /** The most it was ever seen to have received, as the manager recorded it (a replica that lost its relay log has less now). */
  receivedHigh: GtidPosition | null;
  /** Seconds behind its master (`Seconds_Behind_Master`), null when unknown or stopped. */
  lagSeconds: number | null;
  /** The IO thread's last error number (0: none), null when not a replica. */
  ioErrno: number | null;
  /** The SQL thread's last error number (0: none), null when not a replica. */
  sqlErrno: number | null;
  /** Repairs the manager made on it since it was last healthy. */
  repairs: number;
  /** Consecutive checks (this one included) in which its diagnosis named a trouble; a replacement waits for REPLACE_AFTER_CHECKS. */
  troubleChecks: number;
  /** Consecutive monitoring checks in which the manager reached neither the agent nor the SQL port. */
  failedChecks: number;
}

/** Automatic failover as the decision sees it. */
export interface FailoverView {
  /** Automatic failover is switched on. */
  enabled: boolean;
  /** No automatic failover before this time (ms since the epoch), or null. */
  blockedUntil: number | null;
  /** Failed checks in a row before the master counts as unreachable. */
  checks: number;
  /** Seconds an automatic failover blocks the next one. */
  blockSeconds: number;
}

/** An operation as the decision sees it (the stored operation itself). */
export type OperationView = Operation;

/** Everything the decision looks at. Plain data: no I/O, no clock. */
export interface Snapshot {
  /** The service's state. */
  state: ServiceState;
  /** The replicas it should have. */
  desiredReplicas: number;
  /** The number of the next node (`node-<n>`, server_id n). */
  nextSeq: number;
  /** The last error recorded (a failed step), or null. */
  lastError: string | null;
  /** The operation under way, or null. */
  operation: Operation | null;
  /** Every registered node, by server_id. */
  nodes: NodeView[];
  /** Nodes the cloud driver lists that the registry does not know. */
  unknownNodes: string[];
  /** Automatic failover's settings and block. */
  failover: FailoverView;
  /** A new password for the service user waits to be set (set_password). */
  passwordPending?: boolean;
  /** The last master's binary log position as the manager last saw it, or null. */
  lastMasterPosition?: GtidPosition | null;
  /** Since when (ms since the epoch) every node was down at once, until a master serves again; null otherwise. */
  outageSince?: number | null;
  /** The time of the snapshot, ms since the epoch: the core reads no clock. */
  now: number;
}

/** A node to register: its id, role and server_id. */
export interface NewNode {
  /** Its id (`node-<n>`). */
  id: string;
  /** The role it is registered with. */
  role: NodeRole;
  /** Its server_id (n). */
  serverId: number;
}

/** One thing to do. The loop records it, runs it, and looks again. */
export type Step =
  | { kind: 'register_nodes'; nodes: NewNode[] }
  | { kind: 'create_nodes'; ids: string[]; /** A new service's nodes (not a restore): each starts its new server (`init_server`) as soon as its own agent answers. */ initServers?: string[] }
  | { kind: 'start_master'; id: string; initReplicas?: string[] }
  | { kind: 'restore_from_backup'; id: string; plan: RestorePlan }
  | { kind: 'archive_final'; masterId: string }
  | { kind: 'provision'; ids: string[]; masterId: string; donorId: string }
  | { kind: 'init_replicas'; ids: string[]; masterId: string }
  | { kind: 'destroy_nodes'; ids: string[] }
  | { kind: 'forget_nodes'; ids: string[] }
  | { kind: 'destroy_unknown'; ids: string[] }
  | { kind: 'fence'; masterId: string }
  | { kind: 'catch_up'; candidateId: string; masterId: string }
  | { kind: 'promote'; candidateId: string; oldMasterId: string }
  | { kind: 'repoint'; masterId: string; ids: string[] }
  | { kind: 'unfence'; masterId: string }
  | { kind: 'attach'; id: string; masterId: string }
  | { kind: 'abort'; error: string }
  | { kind: 'finish'; state: ServiceState; error: string | null }
  // failover and recovery
  | { kind: 'begin_failover'; oldMasterId: string | null }
  | { kind: 'fence_replicas'; oldMasterId: string | null; ids: string[]; /** The old master's agent answered the last look (its fence is worth waiting for). */ oldMasterAnswers: boolean }
  | { kind: 'drain'; ids: string[] }
  | { kind: 'promote_failover'; candidateId: string; oldMasterId: string | null; gtid: string }
  | { kind: 'restart_master'; id: string; recreate: boolean }
  | { kind: 'restore_master'; id: string }
  | { kind: 'unfence_master'; id: string }
  | { kind: 'restart_mysqld'; id: string }
  | { kind: 'rejoin'; id: string; masterId: string }
  | { kind: 'mark_ready'; id: string }
  | { kind: 'begin_replacement'; count: number }
  // the service user's password
  | { kind: 'begin_set_password' }
  | { kind: 'apply_password'; masterId: string }
  // every replica watched: repairs, in order of cost
  | { kind: 'repair_replica'; id: string; masterId: string; how: 'restart_server' | 'stop_and_restart_server' | 'restart_replication' | 'repoint' }
  | { kind: 'replace_replica'; id: string }
  | { kind: 'mark_healthy'; id: string }
  | { kind: 'set_wait_no_slave'; id: string; on: boolean }
  // a failover's candidate
  | { kind: 'choose_candidate'; candidateId: string; lost: string | null }
  | { kind: 'reject_candidate'; id: string }
  // a total outage: every node down at once
  | { kind: 'record_outage'; at: number }
  | { kind: 'clear_outage' };

/** The kinds of step. */
export type StepKind = Step['kind'];
/** The step of one kind. */
export type StepOf<K extends StepKind> = Extract<Step, { kind: K }>;

/** Changes to the service record a decision makes beyond its step's own (the executor applies them as they are). */
export interface ServicePatch {
  /** The number of replicas the service should have. */
  desiredReplicas?: number;
  /** Ends a total outage (null): a master serves again. */
  outageSince?: number | null;
  /** No automatic failover before this time (ms since the epoch); null lifts the block. */
  failoverBlockedUntil?: number | null;
}

/** What the decision chose: a sentence, at most one step, and the service changes that come with it. */
export interface Decision {
  /** A sentence naming what was decided and why; logged, shown to users, asserted in tests. */
  reason: string;
  /** The one thing to do, or null (watch). */
  step: Step | null;
  /** A decision not to act that users must see (a refused failover, a node waited for): kept in the event history. */
  notable?: boolean;
  /** The decision refuses (or holds back) a failover, for this reason (`conpaas_failover_refusals_total{reason}`). */
  refusal?: FailoverRefusal;
  /** What else the step changes in the service record (`finish` after an abandoned growth, after an automatic failover). */
  service?: ServicePatch;
}

/**
 * Why a failover did not happen: replicas still reach the master (`replicas_connected`), the block
 * after the last one (`blocked`), automatic failover off (`disabled`), promoting the best replica
 * would lose acknowledged transactions (`would_lose_transactions`), no replica can be promoted
 * (`no_candidate`).
 */
export const FAILOVER_REFUSALS = ['replicas_connected', 'blocked', 'disabled', 'would_lose_transactions', 'no_candidate'] as const;

/** One of FAILOVER_REFUSALS. */
export type FailoverRefusal = (typeof FAILOVER_REFUSALS)[number];

/** How many times a failing step is tried before its operation is abandoned. */
export const MAX_ATTEMPTS = 3;

/** Repairs tried on a replica before it is replaced by a fresh copy. */
export const MAX_REPAIRS = 3;

/**
 * Checks in a row a replica's trouble must last before it is replaced by a fresh copy (about 5 s
 * at the default monitoring interval): a new machine and a snapshot are not spent on a glitch, and
 * an operator sees the diagnosis first. Cheap repairs (restart, re-point) do not wait.
 */
export const REPLACE_AFTER_CHECKS = 5;

/** The id of the node with sequence number `seq` (its server_id is `seq` too). */
export function nodeId(seq: number): string {
  return `node-${seq}`;
}

/**
 * The master: the node registered with the master role that is neither being removed nor a
 * former master (it may still be being created). Every layer asks this one function; whether it
 * serves is its `status === 'ready'`.
 */
export function masterOf<N extends { role: NodeRole; status: NodeStatus }>(nodes: readonly N[]): N | undefined {
  return nodes.find((n) => n.role === 'master' && n.status !== 'removing' && n.status !== 'failed');
}

/** The replicas that count: in service, not being removed, not a former master. */
export function liveReplicas<N extends { role: NodeRole; status: NodeStatus }>(nodes: readonly N[]): N[] {
  return nodes.filter((n) => n.role === 'replica' && n.status === 'ready');
}

/** Checks (about a second each) a former master may stay silent before a fresh replica is provisioned in its place. */
export const FORMER_MASTER_GRACE_CHECKS = 30;

/**
 * The replicas the service counts towards the number it wants: registered, not being removed, and
 * not a former master silent past the grace (a fresh replica takes its place; if it comes back
 * after all, it is destroyed).
 */
export function countedReplicas(nodes: readonly NodeView[]): NodeView[] {
  return replicasOf(nodes).filter((n) => !(n.status === 'failed' && !n.reachable && n.failedChecks >= FORMER_MASTER_GRACE_CHECKS));
}

/** Every replica registered and not being removed (some may still be being created). */
export function replicasOf<N extends { role: NodeRole; status: NodeStatus }>(nodes: readonly N[]): N[] {
  return nodes.filter((n) => n.role === 'replica' && n.status !== 'removing');
}
