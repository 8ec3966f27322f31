import { z } from 'zod';
import { method } from './method.js';

/** The agent's methods (DESIGN §5): the contract shared by the agent, its client and tests. */

const none = z.object({}).strict();
const port = z.number().int().min(1).max(65535);
const host = z.string().min(1).max(253).regex(/^[A-Za-z0-9.:-]+$/, 'must be a host name or an IP address');
/** A MariaDB account name: printable, no quotes needed by callers (identifiers are escaped). */
const userName = z.string().min(1).max(80).regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, _ . or -');
/** Any characters, as a user may choose; bounded in size. */
const password = z.string().min(1).max(512);
const nodeName = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, 'must be a node id');
const serverId = z.number().int().min(1).max(4294967295);
/** A size such as `128M` or `1G`, as MariaDB takes it. */
const byteSize = z.string().regex(/^[0-9]{1,12}[KMG]?$/, 'must be a size such as 128M or 1G');

export const replicationSource = z
  .object({
    host,
    port,
    user: userName,
    password,
  })
  .strict();
export type ReplicationSource = z.infer<typeof replicationSource>;

/** A login of one of the service's accounts. */
export const login = z.object({ user: userName, password }).strict();
export type Login = z.infer<typeof login>;

export const peerAddress = z.object({ host, port }).strict();
export type PeerAddress = z.infer<typeof peerAddress>;

export const serverSettings = z
  .object({
    innodbBufferPoolSize: byteSize.optional(),
    maxConnections: z.number().int().min(10).max(100000).optional(),
    /** How long a commit waits for a replica's acknowledgement before going asynchronous. */
    semiSyncTimeoutMs: z.number().int().min(100).max(86_400_000).optional(),
  })
  .strict();
export type ServerSettings = z.infer<typeof serverSettings>;

export type Role = 'master' | 'replica' | 'none';
export type MysqldState = 'uninitialized' | 'stopped' | 'starting' | 'running' | 'stopping' | 'crashed';

export interface ReplicationStatus {
  masterHost: string;
  masterPort: number;
  ioRunning: string; // Yes | No | Connecting
  sqlRunning: string; // Yes | No
  secondsBehindMaster: number | null;
  gtidIoPos: string;
  lastIoError: string;
  lastSqlError: string;
}

export interface AgentStatus {
  agentVersion: string;
  mysqld: {
    state: MysqldState;
    pid: number | null;
    port: number;
    host: string;
    /** How the last run ended, when it ended without being asked to. */
    lastExit: { code: number | null; signal: string | null; at: string } | null;
  };
  serverId: number | null;
  role: Role;
  readOnly: boolean | null;
  gtid: { binlogPos: string; slavePos: string; currentPos: string } | null;
  replication: ReplicationStatus | null;
  /** The long operation under way on this agent, if any (e.g. `provision_from`). */
  busy: string | null;
}

export interface Counters {
  at: string; // ISO time the counters were read
  uptimeSeconds: number;
  status: Record<string, number>;
  statements: { count: number; errors: number; latencyPicoseconds: number };
}

export const agentApi = {
  check_agent_process: method<{ ok: true; pid: number; version: string }>()({ verb: 'GET', params: none }),
  get_status: method<AgentStatus>()({ verb: 'GET', params: none }),
  init_server: method<AgentStatus>()({
    verb: 'POST',
    params: z.object({ serverId, settings: serverSettings.optional() }).strict(),
  }),
  configure_master: method<AgentStatus>()({
    verb: 'POST',
    params: z.object({ replUser: userName, replPassword: password }).strict(),
  }),
  configure_replica: method<AgentStatus>()({
    verb: 'POST',
    params: z.object({ master: replicationSource, gtidSlavePos: z.string().max(4096).optional() }).strict(),
  }),
  stream_snapshot: method()({ verb: 'GET', params: none, result: 'stream' }),
  /**
   * The manager lets one peer agent (by its certificate's name, the node id) pull one snapshot:
   * the permission is used up when that snapshot starts, or lapses after `ttlSeconds`.
   */
  authorize_peer: method<{ peer: string; until: string }>()({
    verb: 'POST',
    params: z.object({ peer: nodeName, ttlSeconds: z.number().int().min(1).max(86400) }).strict(),
  }),
  /** Withdraws a peer's permission to pull a snapshot (its provisioning ended). */
  revoke_peer: method<{ peer: string; revoked: boolean }>()({ verb: 'POST', params: z.object({ peer: nodeName }).strict() }),
  provision_from: method<AgentStatus & { restoredGtid: string; bytes: number }>()({
    verb: 'POST',
    params: z
      .object({ source: peerAddress, master: replicationSource, serverId, settings: serverSettings.optional() })
      .strict(),
  }),
  wait_for_gtid: method<{ reached: boolean; gtid: { binlogPos: string; slavePos: string; currentPos: string } }>()({
    verb: 'POST',
    params: z
      .object({ gtid: z.string().max(4096).regex(/^([0-9]+-[0-9]+-[0-9]+(,[0-9]+-[0-9]+-[0-9]+)*)?$/, 'must be a GTID list such as 0-1-42'), timeoutSeconds: z.number().min(0).max(3600) })
      .strict(),
  }),
  /** Fencing during a failover: stop receiving from the (lost) master; what was received is still applied. */
  stop_replica_io: method<AgentStatus>()({ verb: 'POST', params: none }),
  promote: method<AgentStatus>()({ verb: 'POST', params: none }),
  set_read_only: method<AgentStatus>()({ verb: 'POST', params: z.object({ readOnly: z.boolean() }).strict() }),
  /** Creates or resets the service user with this password and the documented privileges (on the master; replicas follow). */
  set_password: method<{ user: string }>()({
    verb: 'POST',
    params: login,
  }),
  /**
   * Puts back every account the product owns, as the manager knows them (docs/security.md):
   * through the binary log when the manager says this node is the master (`isMaster`), on this
   * server only otherwise. Answers what it changed.
   */
  ensure_accounts: method<{ changed: Record<string, string[]> }>()({
    verb: 'POST',
    params: z.object({ replication: login, service: login, isMaster: z.boolean() }).strict(),
  }),
  dump: method()({ verb: 'GET', params: none, result: 'stream' }),
  /** Loads a dump as the given login (the service user), so an upload has its uploader's rights. */
  load_dump: method<{ bytes: number; statements: number }>()({ verb: 'UPLOAD', params: login, files: ['mysqldump_file'] }),
  get_counters: method<Counters>()({
    verb: 'GET',
    /** Accounts whose statements are not the clients' (e.g. the replication user); root is always left out. */
    params: z.object({ ignoreUsers: z.array(userName).max(16).optional() }).strict(),
  }),
  stop: method<AgentStatus>()({ verb: 'POST', params: none }),
} as const;

export type AgentApi = typeof agentApi;
