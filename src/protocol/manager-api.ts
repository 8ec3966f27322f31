import { z } from 'zod';
import { method } from './method.js';
import type { ServiceState } from './service-states.js';

/** The manager's API (DESIGN §4): the seed's methods plus the later ConPaaS ones. */

const none = z.object({}).strict();
const count = z.number().int().min(1).max(16);
const nodeId = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, 'must be a node id such as node-2');
const cloud = z.string().min(1).max(32).regex(/^[a-z0-9_-]+$/, 'must be a cloud name such as local');

/** `serviceNodeId` (DESIGN) or `id` (the seed's name for it): exactly one. */
const nodeRef = z
  .object({ serviceNodeId: nodeId.optional(), id: nodeId.optional() })
  .strict()
  .refine((p) => (p.serviceNodeId === undefined) !== (p.id === undefined), { message: "needs 'serviceNodeId' (or the seed's 'id'), once" });

export type NodeRole = 'master' | 'replica';
/** Where a node is in its life, as the manager's registry records it. */
/** `failed`: an old master after a failover, to be restarted, re-attached or replaced; `rejoining`: being re-attached. */
export type NodeStatus = 'creating' | 'created' | 'ready' | 'removing' | 'failed' | 'rejoining';

export interface NodeReplication {
  ioRunning: string;
  sqlRunning: string;
  secondsBehindMaster: number | null;
  gtidPosition: string;
  lastError: string;
  masterHost: string;
  masterPort: number;
}

export interface ServiceNodeInfo {
  id: string;
  ip: string;
  port: number;
  agentPort: number;
  /** Plain-HTTP health checks of the node (`/primary`, `/replica?lag=N`, `/health`). */
  healthPort: number;
  role: NodeRole;
  status: NodeStatus;
  isMaster: boolean;
  isSlave: boolean;
  isRunningMySQL: boolean;
  readOnly: boolean | null;
  gtidPosition: string | null;
  replication: NodeReplication | null;
  /** When the monitor last heard from the node's agent (ISO time), or null. */
  lastSeen: string | null;
}

export interface OperationInfo {
  kind: string;
  startedAt: string;
  /** The step under way, in words ("provisioning node-3 from node-1"). */
  step: string | null;
}

export interface ServiceEvent {
  at: string;
  message: string;
}

export interface FailoverInfo {
  /** Automatic failover is switched on. */
  enabled: boolean;
  /** No automatic failover before this time (ISO), after the last one; null when not blocked. */
  blockedUntil: string | null;
  /** Failed checks in a row before the master counts as unreachable. */
  checks: number;
}

export interface ServiceInfo {
  state: ServiceState;
  type: 'mysql';
  user: string;
  master: string | null;
  slaves: string[];
  nodes: ServiceNodeInfo[];
  desiredReplicas: number;
  operation: OperationInfo | null;
  error: string | null;
  events: ServiceEvent[];
  failover: FailoverInfo;
  /** What the manager concluded at its last look (e.g. why it does not fail over). */
  diagnosis: string | null;
}

export interface PerformanceFigures {
  request_rate: number;
  error_rate: number;
  throughput: number;
  response_time: number;
}

export interface ServicePerformance extends PerformanceFigures {
  /** Seconds between the two counter samples the figures come from (0: not enough samples yet). */
  interval: number;
  at: string | null;
  nodes: Record<string, PerformanceFigures & { role: NodeRole }>;
}

export const managerApi = {
  startup: method<{ state: ServiceState }>()({
    verb: 'POST',
    params: z.object({ cloud: cloud.optional(), slaves: z.number().int().min(0).max(16).optional() }).strict(),
  }),
  add_nodes: method<{ state: ServiceState }>()({
    verb: 'POST',
    params: z
      .object({ slaves: count.optional(), function: z.literal('agent').optional(), cloud: cloud.optional() })
      .strict()
      .refine((p) => p.slaves !== undefined || p.function !== undefined, { message: "needs 'slaves' (a count) or the seed's 'function': \"agent\"" }),
  }),
  remove_nodes: method<{ state: ServiceState }>()({
    verb: 'POST',
    params: z
      .object({ serviceNodeId: nodeId.optional(), slaves: count.optional() })
      .strict()
      .refine((p) => (p.serviceNodeId === undefined) !== (p.slaves === undefined), { message: "needs either 'serviceNodeId' or 'slaves', not both" }),
  }),
  list_nodes: method<{ masters: string[]; slaves: string[]; serviceNode: string[] }>()({ verb: 'GET', params: none }),
  get_node_info: method<{ serviceNode: ServiceNodeInfo }>()({ verb: 'GET', params: nodeRef }),
  get_service_info: method<ServiceInfo>()({ verb: 'GET', params: none }),
  set_up_replica_master: method<{ state: ServiceState }>()({ verb: 'POST', params: nodeRef }),
  set_up_replica_slave: method<{ state: ServiceState }>()({ verb: 'POST', params: nodeRef }),
  shutdown: method<{ state: ServiceState }>()({ verb: 'POST', params: none }),
  get_service_performance: method<ServicePerformance>()({ verb: 'GET', params: none }),
  get_password: method<string>()({ verb: 'GET', params: none }),
  set_password: method<{ user: string }>()({
    verb: 'POST',
    params: z.object({ user: z.string().min(1).max(80).optional(), password: z.string().min(1).max(512) }).strict(),
  }),
  sqldump: method()({ verb: 'GET', params: none, result: 'stream' }),
  load_dump: method<{ bytes: number }>()({ verb: 'UPLOAD', params: none, files: ['mysqldump_file'] }),
  getLog: method<{ log: string }>()({ verb: 'GET', params: none }),
  /** A failover ordered by an operator: the master is fenced and the most advanced replica promoted. */
  failover: method<{ state: ServiceState }>()({
    verb: 'POST',
    params: z.object({ serviceNodeId: nodeId.optional() }).strict(),
  }),
  /** Switches automatic failover on or off. */
  set_failover: method<FailoverInfo>()({ verb: 'POST', params: z.object({ enabled: z.boolean() }).strict() }),
  /** Lifts the block an automatic failover put on the next one. */
  acknowledge_failover: method<FailoverInfo>()({ verb: 'POST', params: none }),
} as const;

export type ManagerApi = typeof managerApi;

/** Refines name the node id parameter in one place: the seed's `id` or `serviceNodeId`. */
export function nodeIdOf(p: { serviceNodeId?: string | undefined; id?: string | undefined }): string {
  return (p.serviceNodeId ?? p.id)!;
}
