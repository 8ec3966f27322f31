import { z } from 'zod';
import { method } from './method.js';
import { appDatabase, appPrivileges, appUserHost, appUserName, appUserPassword, type AppUser } from './app-users.js';
import type { ServiceState } from './service-states.js';
import type { PerformanceHistory } from './history.js';
import { PERFORMANCE_WINDOWS, type ServicePerformance } from './performance.js';
import { BACKUP_ID_PATTERN, type BackupList, type BackupPolicy } from './backups.js';
import { restoreRequestSchema, type RecoverableWindow } from './restore.js';

export type { DiskUsage, NodeHistory, PerformanceHistory, PerformancePoint } from './history.js';
export { PERFORMANCE_WINDOWS, type PerformanceFigures, type PerformanceWindow, type ServicePerformance, type WindowPerformance } from './performance.js';

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

/** A node's role in the service: the one master, or a replica of it. */
export type NodeRole = 'master' | 'replica';
/**
 * Where a node is in its life, as the manager's registry records it: `creating` (registered, no
 * machine yet), `created` (its agent answers, no data yet), `ready` (in service), `removing`
 * (being destroyed), `failed` (an old master after a failover, to be restarted, re-attached or
 * replaced), `rejoining` (being re-attached).
 */
export type NodeStatus = 'creating' | 'created' | 'ready' | 'removing' | 'failed' | 'rejoining';

/** A replica's replication, as get_node_info shows it. */
export interface NodeReplication {
  /** The IO thread: `Yes`, `No` or `Connecting`. */
  ioRunning: string;
  /** The SQL thread: `Yes` or `No`. */
  sqlRunning: string;
  /** Seconds behind the master as MariaDB estimates it; null while a thread is stopped. */
  secondsBehindMaster: number | null;
  /** What the replica applied from its master (`gtid_slave_pos`). */
  gtidPosition: string;
  /** The last IO or SQL error, '' when none. */
  lastError: string;
  /** The master's address and port as the replica reaches them. */
  masterHost: string;
  /** The master's MySQL port. */
  masterPort: number;
}

/** One node as get_node_info and get_service_info show it. */
export interface ServiceNodeInfo {
  /** The node's id (`node-<n>`). */
  id: string;
  /** The address a MySQL client connects to. */
  ip: string;
  /** The port a MySQL client connects to. */
  port: number;
  /** The agent's API port. */
  agentPort: number;
  /** Plain-HTTP health checks of the node (`/primary`, `/replica?lag=N`, `/health`). */
  healthPort: number;
  /** Its role. */
  role: NodeRole;
  /** Where it is in its life. */
  status: NodeStatus;
  /** The seed's fields: the role as booleans. */
  isMaster: boolean;
  /** True for a replica. */
  isSlave: boolean;
  /** mariadbd runs, as its agent last said. */
  isRunningMySQL: boolean;
  /** The server's read_only, or null when unknown. */
  readOnly: boolean | null;
  /** Everything the server applied (`gtid_current_pos`), or null when unknown. */
  gtidPosition: string | null;
  /** Its replication when it replicates, else null. */
  replication: NodeReplication | null;
  /** When the monitor last heard from the node's agent (ISO time), or null. */
  lastSeen: string | null;
  /** The node's condition in words (`node-2 replicates`, `node-2's replication is broken: SQL error 1062`…), or null before it was seen. */
  diagnosis: string | null;
  /** A replica offered for reads now: healthy and within the read lag limit. */
  servesReads: boolean;
}

/** The operation under way, as get_service_info shows it. */
export interface OperationInfo {
  /** Its kind (protocol/operations.ts). */
  kind: string;
  /** When it began (ISO time). */
  startedAt: string;
  /** The step under way, in words ("provisioning node-3 from node-1"). */
  step: string | null;
}

/** One event of the service's history. */
export interface ServiceEvent {
  /** When (ISO time). */
  at: string;
  /** What happened, or what the manager decided and why. */
  message: string;
}

/** The automatic failover's settings and block. */
export interface FailoverInfo {
  /** Automatic failover is switched on. */
  enabled: boolean;
  /** No automatic failover before this time (ISO), after the last one; null when not blocked. */
  blockedUntil: string | null;
  /** Failed checks in a row before the master counts as unreachable. */
  checks: number;
}

/** What get_service_info answers. */
export interface ServiceInfo {
  /** The service's state. */
  state: ServiceState;
  /** Always `mysql` (ConPaaS's service type). */
  type: 'mysql';
  /** The service user's name (`mysqldb`). */
  user: string;
  /** The master's `host:port`, or null while there is none in service. */
  master: string | null;
  /** The ready replicas' `host:port`. */
  slaves: string[];
  /** Every registered node. */
  nodes: ServiceNodeInfo[];
  /** The number of replicas the service keeps. */
  desiredReplicas: number;
  /** The operation under way, or null. */
  operation: OperationInfo | null;
  /** Why the last operation failed, or null. */
  error: string | null;
  /** The last events, oldest first. */
  events: ServiceEvent[];
  /** Automatic failover: on or off, blocked until when. */
  failover: FailoverInfo;
  /** What the manager concluded at its last look (e.g. why it does not fail over). */
  diagnosis: string | null;
  /** The span a restore can reach (docs/backups.md): oldest backup → last recoverable time. */
  recoverable: RecoverableWindow;
}

/** A host of the static cloud as list_hosts shows it. */
export interface HostInfo {
  /** Its address. */
  address: string;
  /** `free`, the node it holds (`node-3`), or `unreachable` (its agent did not answer now). */
  state: string;
  /** The node it holds, or null. */
  node: string | null;
  /** Its agent's port. */
  agentPort: number;
  /** Its mariadbd's port. */
  mysqlPort: number;
  /** When its agent last answered (ISO time), or null. */
  lastSeen: string | null;
  /** Its agent's version. */
  agentVersion: string;
}

/** What load_dump answers: the seed's `bytes`, and what was loaded, left out and checked. */
export interface LoadReport {
  /** Bytes received. */
  bytes: number;
  /** Statements the dump held. */
  statements: number;
  /** What was left out or rewritten, one sentence per kind (docs/protocol.md, load_dump). */
  warnings: string[];
  /** The application databases the dump creates or switches to. */
  schemas: string[];
  /** Per replica in service: `the same N tables as the master`, what differs, or why it was not checked. */
  replicas: Record<string, string>;
}

/** What list_nodes answers: node ids, as ConPaaS named the lists (by server id). */
export interface NodeLists {
  /** The master's id (one, or none while the service has no master). */
  masters: string[];
  /** The replicas' ids. */
  slaves: string[];
  /** Every node's id. */
  serviceNode: string[];
}

/** The manager's methods: name → verb, params schema, result type (DESIGN §4). */
export const managerApi = {
  /**
   * Starts the service: a master and `slaves` replicas. With `restore` (issue #16, docs/backups.md),
   * the master is built from the backup store, to `restore.time` or the archive's end, checked
   * before anything starts.
   */
  startup: method<{ state: ServiceState }>()({
    verb: 'POST',
    params: z.object({ cloud: cloud.optional(), slaves: z.number().int().min(0).max(16).optional(), restore: restoreRequestSchema.optional() }).strict(),
  }),
  add_nodes: method<{ state: ServiceState }>()({
    verb: 'POST',
    params: z
      // ConPaaS's frontend sends `masters: 0` beside `slaves` (its changeNodes form): accepted, and only 0.
      .object({ slaves: count.optional(), function: z.literal('agent').optional(), cloud: cloud.optional(), masters: z.literal(0, { errorMap: () => ({ message: 'a service has exactly one master: only 0 more masters can be asked for' }) }).optional() })
      .strict()
      .refine((p) => p.slaves !== undefined || p.function !== undefined, { message: "needs 'slaves' (a count) or the seed's 'function': \"agent\"" }),
  }),
  remove_nodes: method<{ state: ServiceState }>()({
    verb: 'POST',
    params: z
      .object({ serviceNodeId: nodeId.optional(), slaves: count.optional(), masters: z.literal(0, { errorMap: () => ({ message: 'the master cannot be removed: only 0 masters can be asked for' }) }).optional() })
      .strict()
      .refine((p) => (p.serviceNodeId === undefined) !== (p.slaves === undefined), { message: "needs either 'serviceNodeId' or 'slaves', not both" }),
  }),
  list_nodes: method<NodeLists>()({ verb: 'GET', params: none }),
  get_node_info: method<{ serviceNode: ServiceNodeInfo }>()({ verb: 'GET', params: nodeRef }),
  get_service_info: method<ServiceInfo>()({ verb: 'GET', params: none }),
  /**
   * A planned switchover to this replica. Refused before any write is blocked when it does not
   * replicate from the master, stopped on an error, holds errant transactions or is more than
   * `maxLagSeconds` behind (default 5).
   */
  set_up_replica_master: method<{ state: ServiceState }>()({
    verb: 'POST',
    params: z
      .object({ serviceNodeId: nodeId.optional(), id: nodeId.optional(), maxLagSeconds: z.number().int().min(0).max(86_400).optional() })
      .strict()
      .refine((p) => (p.serviceNodeId === undefined) !== (p.id === undefined), { message: "needs 'serviceNodeId' (or the seed's 'id'), once" }),
  }),
  set_up_replica_slave: method<{ state: ServiceState }>()({ verb: 'POST', params: nodeRef }),
  shutdown: method<{ state: ServiceState }>()({ verb: 'POST', params: none }),
  /** The service's performance; `window` (default `1m`) selects the window of the top-level figures. */
  get_service_performance: method<ServicePerformance>()({ verb: 'GET', params: z.object({ window: z.enum(PERFORMANCE_WINDOWS).optional() }).strict() }),
  /**
   * A physical backup, taken in the background into the backup store (docs/backups.md): a full one
   * from a caught-up replica (the master only when alone), or with `incremental` the pages changed
   * since the newest backup, from the node that one came from.
   */
  backup: method<{ id: string; source: string }>()({ verb: 'POST', params: z.object({ incremental: z.boolean().optional() }).strict() }),
  /** The complete backups, the one under way and how the last one ended. */
  list_backups: method<BackupList>()({ verb: 'GET', params: none }),
  /**
   * The backup schedule and retention (docs/backups.md): a full backup every `interval` seconds
   * (5 s to 31 days; 0 stops the schedule), `keep` full backups kept (1–1000) with what a restore
   * from them needs. Answers the policy now in force.
   */
  set_backup_policy: method<BackupPolicy>()({
    verb: 'POST',
    params: z
      .object({
        interval: z.union([z.literal(0), z.number().int().min(5).max(31 * 86400)], { errorMap: () => ({ message: 'interval is seconds between backups: 0 (none scheduled) or 5 to 2678400' }) }).optional(),
        keep: z.number().int().min(1).max(1000).optional(),
      })
      .strict()
      .refine((p) => p.interval !== undefined || p.keep !== undefined, { message: "needs 'interval' (seconds, 0: none) or 'keep' (full backups kept)" }),
  }),
  /** Deletes a complete backup. */
  delete_backup: method<{ id: string }>()({ verb: 'POST', params: z.object({ id: z.string().regex(BACKUP_ID_PATTERN, 'must be a backup id such as full-20261129T120000Z') }).strict() }),
  /** Each ready node's last 15 minutes: statements, reads and writes, commits, latency, connections, and its disk (the web console's charts). */
  get_performance_history: method<PerformanceHistory>()({ verb: 'GET', params: none }),
  get_password: method<string>()({ verb: 'GET', params: none }),
  set_password: method<{ user: string }>()({
    verb: 'POST',
    params: z.object({ user: z.string().min(1).max(80).optional(), password: z.string().min(1).max(512) }).strict(),
  }),
  /** A logical dump of the user databases, streamed; `compatible: "mysql"` leaves out mariadb-dump's first line (the sandbox mode), which MySQL's and older MariaDB's clients refuse. */
  sqldump: method()({ verb: 'GET', params: z.object({ compatible: z.literal('mysql').optional() }).strict(), result: 'stream' }),
  /**
   * Loads a dump (file field `mysqldump_file`) into the master as the service user; replicas follow
   * and are checked. Refused whole (nothing loaded) for statements a rule refuses; statements that
   * would break replication or the service's accounts are left out and said in `warnings`.
   */
  load_dump: method<LoadReport>()({ verb: 'UPLOAD', params: none, files: ['mysqldump_file'] }),
  /** The tail of the manager's log: lines a person reads, or (`format: "json"`) the JSON lines of the file. */
  getLog: method<{ log: string }>()({ verb: 'GET', params: z.object({ format: z.enum(['text', 'json']).optional() }).strict() }),
  /**
   * A failover ordered by an operator, from a live master or from ERROR without one: the master
   * (if any) is fenced and the replica holding the most promoted, or the one named. Refused when
   * that would lose acknowledged transactions, unless `force` (the loss is then reported).
   */
  failover: method<{ state: ServiceState }>()({
    verb: 'POST',
    params: z.object({ serviceNodeId: nodeId.optional(), force: z.boolean().optional() }).strict(),
  }),
  /**
   * Creates an application account (docs/security.md, "Application users") on the master, which
   * replicates it: `privileges` from a documented set (`ALL`, or SELECT, INSERT…; nothing global),
   * on `databases` (plain names) or, without them, on every application database; `host` `%` by
   * default. WRONG_STATE when it exists; INVALID_PARAMS for the service's own accounts.
   */
  create_user: method<{ user: string; host: string }>()({
    verb: 'POST',
    params: z.object({ user: appUserName, password: appUserPassword, host: appUserHost.optional(), privileges: appPrivileges, databases: z.array(appDatabase).min(1).max(64).optional() }).strict(),
  }),
  /** The application accounts (the service's own are not listed). */
  list_users: method<{ users: AppUser[] }>()({ verb: 'GET', params: none }),
  /** Sets an application account's password; NOT_FOUND when there is no such account. */
  set_user_password: method<{ user: string; host: string }>()({
    verb: 'POST',
    params: z.object({ user: appUserName, password: appUserPassword, host: appUserHost.optional() }).strict(),
  }),
  /** Drops an application account; NOT_FOUND when there is none. */
  drop_user: method<{ user: string; host: string }>()({ verb: 'POST', params: z.object({ user: appUserName, host: appUserHost.optional() }).strict() }),
  /**
   * A one-time token for a host to join the static cloud (`ID.SECRET`, shown once; its secret is
   * stored only as a hash), valid `ttlSeconds` (default 3600), bound to `address` when given; with
   * the command the host's operator runs.
   */
  create_join_token: method<{ token: string; expiresAt: string; caHash: string; command: string }>()({
    verb: 'POST',
    params: z.object({ ttlSeconds: z.number().int().min(60).max(7 * 86400).optional(), address: z.string().min(1).max(64).regex(/^[0-9A-Fa-f.:]+$/, 'must be an IP address').optional() }).strict(),
  }),
  /** The hosts that joined (static cloud): address, free / the node it holds / unreachable, last seen, agent version. */
  list_hosts: method<{ hosts: HostInfo[] }>()({ verb: 'GET', params: none }),
  /** Removes a free host: its certificate goes on the deny list every agent checks. */
  remove_host: method<{ address: string; deniedSerial: string }>()({ verb: 'POST', params: z.object({ address: z.string().min(1).max(64) }).strict() }),
  /** Begins again the last operation that was abandoned (failover, switchover, attach, remove_nodes, shutdown). */
  retry: method<{ state: ServiceState; kind: string }>()({ verb: 'POST', params: none }),
  /** Switches automatic failover on or off. */
  set_failover: method<FailoverInfo>()({ verb: 'POST', params: z.object({ enabled: z.boolean() }).strict() }),
  /** Lifts the block an automatic failover put on the next one. */
  acknowledge_failover: method<FailoverInfo>()({ verb: 'POST', params: none }),
} as const;

/** The manager's method map, as a type. */
export type ManagerApi = typeof managerApi;

/** The node id a call named: `serviceNodeId`, or the seed's `id` (its schema makes sure exactly one is given). */
export function nodeIdOf(p: { serviceNodeId?: string | undefined; id?: string | undefined }): string {
  return (p.serviceNodeId ?? p.id)!;
}
