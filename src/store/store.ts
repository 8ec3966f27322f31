import type { NodeRole, NodeStatus, ServiceEvent } from '../protocol/manager-api.js';
import type { Operation, OperationKind, ParamsByKind } from '../protocol/operations.js';
import type { ServiceState } from '../protocol/service-states.js';

/** The service's one record: its state, credentials, size and failover settings. */
export interface ServiceRecord {
  /** The service's state. */
  state: ServiceState;
  /** Why the last operation failed, or null. */
  error: string | null;
  /** The cloud the service's nodes are made in. */
  cloud: string;
  /** The service user's name (`mysqldb`). */
  user: string;
  /** The service user's password. */
  password: string;
  /** The replication account's name. */
  replUser: string;
  /** The replication account's password. */
  replPassword: string;
  /** The number of replicas the service keeps. */
  desiredReplicas: number;
  /** The next number for a node id (`node-<n>`) and its server_id. */
  nextSeq: number;
  /** Automatic failover is on. */
  failoverEnabled: boolean;
  /** No automatic failover before this time (ISO), after one happened; null when not blocked. */
  failoverBlockedUntil: string | null;
  /** A new password for the service user that set_password recorded and the loop has not set yet. */
  pendingPassword: string | null;
  /** The last master's binary log position as the monitor last saw it (GTID text), or null. */
  lastMasterGtid: string | null;
  /** Since when (ISO) every node was down at once, until a master serves again; null otherwise. */
  outageSince: string | null;
}

/** A new service record: what the last master wrote and the outage are unknown yet. */
export type NewServiceRecord = Omit<ServiceRecord, 'lastMasterGtid' | 'outageSince'> & Partial<Pick<ServiceRecord, 'lastMasterGtid' | 'outageSince'>>;

/** One node of the service, as the registry keeps it. */
export interface NodeRecord {
  /** Its id (`node-<n>`). */
  id: string;
  /** Its role. */
  role: NodeRole;
  /** Where it is in its life. */
  status: NodeStatus;
  /** Its server_id, unique in the service. */
  serverId: number;
  /** Its address, once the cloud made it. */
  host: string | null;
  /** Its agent's API port, once made. */
  agentPort: number | null;
  /** Its mariadbd's port, once made. */
  mysqlPort: number | null;
  /** Its health checks' port, once made. */
  healthPort: number | null;
  /** The most it was ever seen to have received from its master (GTID text), or null. */
  receivedGtid: string | null;
  /** Repairs made on it since it was last healthy. */
  repairs: number;
}

/** A node to register: what it received and its repairs start empty. */
export type NewNodeRecord = Omit<NodeRecord, 'receivedGtid' | 'repairs'> & Partial<Pick<NodeRecord, 'receivedGtid' | 'repairs'>>;

/** The operation under way: its kind, parameters, phase (the last completed), attempts, abort reason; its id and start. */
export type OperationRecord = Operation & { id: number; startedAt: string };

/** An operation that ended: how, and why when it failed. */
export type EndedOperation = OperationRecord & { outcome: 'done' | 'failed'; error: string | null };

/** What the loop changes of the operation under way. */
export interface OperationPatch {
  /** The phase completed, or `aborting`/`aborted`. */
  phase?: string | null;
  /** Failed attempts of the current step. */
  attempts?: number;
  /** Its parameters (failover learns its candidate). */
  params?: Operation['params'];
  /** Why it is being undone. */
  abortError?: string | null;
}

/**
 * The manager's durable state. Every write is committed before the call returns. Operations
 * are read through `operationSchema` (protocol/operations.ts): a row that is not a valid
 * operation throws rather than reach the manager.
 */
export interface StateStore {
  /**
   * A counter that grows with every change made through this store (never on a read): what an
   * in-memory view of the store compares to know whether it is still current. Starts at 0 when
   * the store is opened.
   */
  readonly version: number;
  /** The service's record, or null before the first startup. */
  service(): ServiceRecord | null;
  /** Throws when the record exists already. */
  createService(s: NewServiceRecord): void;
  /** Throws when there is no record. Returns the record after the change. */
  updateService(patch: Partial<ServiceRecord>): ServiceRecord;
  /** Every node, by server_id. */
  nodes(): NodeRecord[];
  /** One node, or null. */
  node(id: string): NodeRecord | null;
  /** Throws when the id or the server_id is taken. */
  insertNode(n: NewNodeRecord): void;
  /** Does nothing for an unknown id. */
  updateNode(id: string, patch: Partial<Omit<NodeRecord, 'id'>>): void;
  /** Removes a node from the registry (nothing for an unknown id). */
  deleteNode(id: string): void;
  /** The operation under way, if any: at most one. */
  operation(): OperationRecord | null;
  /** Records a new operation (phase null, no attempt). Throws when one is under way. */
  beginOperation<K extends OperationKind>(kind: K, params: ParamsByKind[K]): OperationRecord;
  /** Changes the operation under way (nothing when there is none). Throws when the result would not be a valid operation. */
  updateOperation(patch: OperationPatch): void;
  /** Ends the operation under way, keeping it in the history with its outcome. */
  endOperation(outcome: 'done' | 'failed', error?: string): void;
  /** The operation that ended last, with its outcome and error; null when none ended yet. */
  lastEndedOperation(): EndedOperation | null;
  /** Every ended operation, oldest first: its kind, outcome and how long it took, in seconds (the metrics' counters and histogram). */
  endedOperations(): { kind: OperationKind; outcome: 'done' | 'failed'; seconds: number }[];
  /** Records a step before it runs; returns its id for `journalOutcome`. */
  journal(step: string, detail: Record<string, unknown>): number;
  /** Records how a journaled step ended (`done`, `failed: …`). */
  journalOutcome(id: number, outcome: string): void;
  /** Adds an event to the service's history (now). */
  addEvent(message: string): void;
  /** The last `limit` events, oldest first. */
  events(limit: number): ServiceEvent[];
  /** Runs `fn` in one transaction: every write of a function that throws is undone. */
  atomically<T>(fn: () => T): T;
  /** Closes the store; nothing may be called after. */
  close(): void;
}
