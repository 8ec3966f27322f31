import type { NodeRole, NodeStatus } from '../../protocol/manager-api.js';
import type { ServiceState } from '../../protocol/service-states.js';

/** What the manager knows of one node at one instant: its registry record and what was observed. */
export interface NodeView {
  id: string;
  role: NodeRole;
  status: NodeStatus;
  serverId: number;
  /** The cloud driver lists the node as alive. */
  alive: boolean;
  /** The agent answered the last poll. */
  reachable: boolean;
  /** `mariadbd` is running, as its agent reports. */
  mysqlRunning: boolean;
  readOnly: boolean | null;
  /** The node replicates from this node id (resolved from host:port), when it replicates. */
  replicatingFrom: string | null;
  /** Replication threads as the agent reports them (`Yes`, `No`, `Connecting`), null when not a replica. */
  ioRunning: string | null;
  sqlRunning: string | null;
  /** The last replication error (IO or SQL), '' when none. */
  replicationError: string;
  /** GTID positions: everything applied (`gtid_current_pos`), and received (`Gtid_IO_Pos`). */
  gtidApplied: string | null;
  gtidReceived: string | null;
  /** Consecutive monitoring checks in which the manager reached neither the agent nor the SQL port. */
  failedChecks: number;
}

export interface FailoverView {
  /** Automatic failover is switched on. */
  enabled: boolean;
  /** No automatic failover before this time (ms since the epoch), or null. */
  blockedUntil: number | null;
  /** Failed checks in a row before the master counts as unreachable. */
  checks: number;
}

export interface OperationView {
  kind: OperationKind;
  params: Record<string, unknown>;
  /** The last phase completed (switchover), or 'aborting'. */
  phase: string | null;
  attempts: number;
}

export type OperationKind = 'startup' | 'add_nodes' | 'remove_nodes' | 'switchover' | 'attach' | 'shutdown' | 'failover';

/** Everything the decision looks at. Plain data: no I/O, no clock. */
export interface Snapshot {
  state: ServiceState;
  desiredReplicas: number;
  nextSeq: number;
  lastError: string | null;
  operation: OperationView | null;
  nodes: NodeView[];
  /** Nodes the cloud driver lists that the registry does not know. */
  unknownNodes: string[];
  failover: FailoverView;
  /** The time of the snapshot, ms since the epoch: the core reads no clock. */
  now: number;
}

/** One thing to do. The loop records it, runs it, and looks again. */
export type Step =
  | { kind: 'register_nodes'; nodes: Array<{ id: string; role: NodeRole; serverId: number }> }
  | { kind: 'create_nodes'; ids: string[] }
  | { kind: 'start_master'; id: string }
  | { kind: 'provision'; ids: string[]; masterId: string }
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
  | { kind: 'begin_failover'; oldMasterId: string }
  | { kind: 'fence_replicas'; oldMasterId: string; ids: string[] }
  | { kind: 'drain'; ids: string[] }
  | { kind: 'promote_failover'; candidateId: string; oldMasterId: string; gtid: string }
  | { kind: 'restart_master'; id: string; recreate: boolean }
  | { kind: 'restart_mysqld'; id: string }
  | { kind: 'rejoin'; id: string; masterId: string }
  | { kind: 'mark_ready'; id: string }
  | { kind: 'begin_replacement'; count: number };

export interface Decision {
  /** A sentence naming what was decided and why; logged, shown to users, asserted in tests. */
  reason: string;
  step: Step | null;
  /** A decision not to act that users must see (a refused failover, a node waited for): kept in the event history. */
  notable?: boolean;
}

/** How many times a failing step is tried before its operation is abandoned. */
export const MAX_ATTEMPTS = 3;

export function nodeId(seq: number): string {
  return `node-${seq}`;
}
