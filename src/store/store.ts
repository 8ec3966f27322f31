import type { NodeRole, NodeStatus, ServiceEvent } from '../protocol/manager-api.js';
import type { ServiceState } from '../protocol/service-states.js';

export interface ServiceRecord {
  state: ServiceState;
  error: string | null;
  cloud: string;
  user: string;
  password: string;
  replUser: string;
  replPassword: string;
  desiredReplicas: number;
  /** The next number for a node id (`node-<n>`) and its server_id. */
  nextSeq: number;
  /** Automatic failover is on. */
  failoverEnabled: boolean;
  /** No automatic failover before this time (ISO), after one happened; null when not blocked. */
  failoverBlockedUntil: string | null;
}

export interface NodeRecord {
  id: string;
  role: NodeRole;
  status: NodeStatus;
  serverId: number;
  host: string | null;
  agentPort: number | null;
  mysqlPort: number | null;
  healthPort: number | null;
}

export interface OperationRecord {
  id: number;
  kind: string;
  params: Record<string, unknown>;
  /** Where a multi-phase operation (a switchover) stands; recorded before the phase runs. */
  phase: string | null;
  attempts: number;
  startedAt: string;
}

/** The manager's durable state. Every write is committed before the call returns. */
export interface StateStore {
  service(): ServiceRecord | null;
  createService(s: ServiceRecord): void;
  updateService(patch: Partial<ServiceRecord>): ServiceRecord;
  nodes(): NodeRecord[];
  node(id: string): NodeRecord | null;
  insertNode(n: NodeRecord): void;
  updateNode(id: string, patch: Partial<Omit<NodeRecord, 'id'>>): void;
  deleteNode(id: string): void;
  /** The operation under way, if any: at most one. */
  operation(): OperationRecord | null;
  beginOperation(kind: string, params: Record<string, unknown>): OperationRecord;
  updateOperation(patch: Partial<Pick<OperationRecord, 'phase' | 'attempts' | 'params'>>): void;
  endOperation(outcome: 'done' | 'failed', error?: string): void;
  /** Records a step before it runs; returns its id for `journalOutcome`. */
  journal(step: string, detail: Record<string, unknown>): number;
  journalOutcome(id: number, outcome: string): void;
  addEvent(message: string): void;
  events(limit: number): ServiceEvent[];
  /** Runs `fn` in one transaction. */
  atomically<T>(fn: () => T): T;
  close(): void;
}
