import { z } from 'zod';
import { parseGtidPosition } from './gtid.js';
import { method } from './method.js';
import type { DiskUsage } from './history.js';
import { appDatabase, appPrivileges, appUserHost, appUserName, appUserPassword, type AppUser } from './app-users.js';

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
/** A GTID position as MariaDB writes it (`0-1-42,1-2-7`, '' for none), checked by the one GTID parser. */
const gtidPosition = z
  .string()
  .max(4096)
  .refine((s) => parseGtidPosition(s) !== null, { message: 'must be a GTID position such as 0-1-42' });
/** A size such as `128M` or `1G`, as MariaDB takes it. */
const byteSize = z.string().regex(/^[0-9]{1,12}[KMG]?$/, 'must be a size such as 128M or 1G');

/** Where a replica reaches its master, and the replication account it logs in with. */
export const replicationSource = z
  .object({
    host,
    port,
    user: userName,
    password,
  })
  .strict();
/** A replica's master, as configure_replica and provision_from take it. */
export type ReplicationSource = z.infer<typeof replicationSource>;

/** A login of one of the service's accounts. */
export const login = z.object({ user: userName, password }).strict();
/** An account's name and password. */
export type Login = z.infer<typeof login>;

/**
 * New nodes taking one snapshot together (issue #17): the donor reads its data once for the
 * `receivers` calls that name the same `key` (a token the manager draws per attempt).
 */
export const snapshotShare = z.object({ key: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/), receivers: z.number().int().min(1).max(64) }).strict();

/** Where a peer agent's API listens. */
export const peerAddress = z.object({ host, port }).strict();
/**
 * What a new node needs to take its snapshot over a data channel (send_snapshot): the donor's
 * certificate name (`source`, which the channel's sender must show) and this node's own address
 * (`host`), where it listens. Without it provision_from pulls the snapshot over HTTPS.
 */
export const snapshotChannel = z.object({ source: nodeName, host }).strict();
/** See snapshotChannel. */
export type SnapshotChannel = z.infer<typeof snapshotChannel>;

/** A Unix socket (an absolute path) where a new node on the donor's own host listens for its snapshot. */
export const channelSocket = z.object({ socket: z.string().regex(/^\/[A-Za-z0-9_./-]{1,106}$/, 'must be an absolute path of letters, digits, _ . / or -') }).strict();

/** A peer agent's address and API port. */
export type PeerAddress = z.infer<typeof peerAddress>;

/** The settings a node's server may be given (init_server); each left out takes the engine's default. */
export const serverSettings = z
  .object({
    innodbBufferPoolSize: byteSize.optional(),
    maxConnections: z.number().int().min(10).max(100000).optional(),
    /** How long a commit waits for a replica's acknowledgement before going asynchronous. */
    semiSyncTimeoutMs: z.number().int().min(100).max(86_400_000).optional(),
  })
  .strict();
/** A node's chosen server settings: buffer pool (`128M`), connections, semi-sync timeout (ms). */
export type ServerSettings = z.infer<typeof serverSettings>;

/** What the agent was told its node is: the master, a replica, or nothing yet. */
export type Role = 'master' | 'replica' | 'none';
/** The state of a node's mariadbd process; `uninitialized` before it has a data directory. */
export type MysqldState = 'uninitialized' | 'stopped' | 'starting' | 'running' | 'stopping' | 'crashed';

/** A replica's replication, as `SHOW SLAVE STATUS` tells it. */
export interface ReplicationStatus {
  /** The master's address and port. */
  masterHost: string;
  /** The master's MySQL port. */
  masterPort: number;
  /** The IO thread: `Yes`, `No` or `Connecting`. */
  ioRunning: string;
  /** The SQL thread: `Yes` or `No`. */
  sqlRunning: string;
  /** MariaDB's estimate of the lag, seconds; null while a thread is stopped. */
  secondsBehindMaster: number | null;
  /** The last GTID received per domain (`Gtid_IO_Pos`). */
  gtidIoPos: string;
  /** The IO thread's last error, '' when none. */
  lastIoError: string;
  /** Its MariaDB error number, 0 when none (1236: the master lacks the position asked for). */
  lastIoErrno: number;
  /** The SQL thread's last error, '' when none. */
  lastSqlError: string;
  /** Its MariaDB error number, 0 when none (1062 duplicate key, 1950 out-of-order GTID, …). */
  lastSqlErrno: number;
}

/** What get_status answers: the node's server and replication as the agent sees them now. */
export interface AgentStatus {
  /** The agent's release. */
  agentVersion: string;
  /** The server process: state, pid, where it listens, how it last ended. */
  mysqld: {
    state: MysqldState;
    /** A running server answered the agent's status query within its deadline (false: frozen or overloaded). */
    answers: boolean;
    pid: number | null;
    port: number;
    host: string;
    /** How the last run ended, when it ended without being asked to. */
    lastExit: { code: number | null; signal: string | null; at: string } | null;
  };
  /** The server's server_id, or null before init_server. */
  serverId: number | null;
  /** What the agent was told the node is. */
  role: Role;
  /** The server's read_only; null when it does not run. */
  readOnly: boolean | null;
  /** `rpl_semi_sync_master_wait_no_slave`, or null when unknown (docs/failover.md). */
  waitNoSlave?: boolean | null;
  /** The agent fenced its server (a failover did, or it was cut off from the manager and every replica): `/primary` answers 503 (docs/failover.md). */
  fenced?: boolean;
  /** `gtid_binlog_pos`, `gtid_slave_pos`, `gtid_current_pos`; null when it does not run. */
  gtid: { binlogPos: string; slavePos: string; currentPos: string } | null;
  /** Its replication when it replicates, else null. */
  replication: ReplicationStatus | null;
  /** The long operation under way on this agent, if any (e.g. `provision_from`). */
  busy: string | null;
}

/** What get_counters answers: server counters for the manager's figures. */
export interface Counters {
  /** When the counters were read (ISO time). */
  at: string;
  /** The server's uptime, seconds (a restart resets its counters). */
  uptimeSeconds: number;
  /** Selected `SHOW GLOBAL STATUS` values by name. */
  status: Record<string, number>;
  /** Client statements since start: how many, how many failed, their total latency (picoseconds). */
  statements: {
    count: number;
    errors: number;
    latencyPicoseconds: number;
    /** Of `count`: SELECTs (absent from agents before the web console). */
    reads?: number;
    /** Of `count`: INSERT, UPDATE, DELETE, REPLACE and their multi-table forms (absent as `reads`). */
    writes?: number;
  };
  /** The server's version (`@@version`, e.g. `10.11.14-MariaDB-0+deb12u2-log`; absent from agents before it). */
  serverVersion?: string;
  /** Selected server variables by name (`max_connections`, `innodb_buffer_pool_size`; absent from agents before them). */
  variables?: Record<string, number>;
  /** What the server's data takes on disk (absent from agents before the web console, and when it cannot be read). */
  disk?: DiskUsage;
  /**
   * Statements since the histogram was last reset, by latency bucket (MariaDB's
   * query_response_time plugin, information_schema.QUERY_RESPONSE_TIME): each bucket's upper
   * bound in seconds (null for the last, "TOO LONG") and how many statements fell in it (not
   * cumulative). Absent when the plugin is not loaded.
   */
  latencyHistogram?: Array<{ upperSeconds: number | null; count: number }>;
}

/** What an agent's load_dump answers. */
export interface LoadAnswer {
  /** Bytes received. */
  bytes: number;
  /** Statements the dump held. */
  statements: number;
  /** What was left out or rewritten, one sentence per kind (docs/protocol.md, load_dump). */
  warnings: string[];
  /** The application databases the dump creates or switches to. */
  schemas: string[];
  /** The master's binary log position after the load. */
  gtid: string;
}

/** The agent's methods (DESIGN §5, docs/agent.md): name → verb, params schema, result type. */
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
    params: z.object({ master: replicationSource, gtidSlavePos: gtidPosition.optional() }).strict(),
  }),
  /** A physical hot copy as an xbstream; with `incrementalLsn` (a parent backup's to_lsn), an incremental one. */
  stream_snapshot: method()({ verb: 'GET', params: z.object({ incrementalLsn: z.number().int().min(0).optional(), share: snapshotShare.optional() }).strict(), result: 'stream' }),
  /**
   * A peer's snapshot over a data channel outside Node (src/util/tls-channel.ts): the donor joins
   * the caller to a copy (alone, or the `share` group, as stream_snapshot does) and sends it to
   * the caller's listener at `to`, which must show the caller's own certificate — or, for a
   * caller on the same host, `to.socket`: a Unix socket that must belong to this agent's OS
   * user with mode 0600 (no TLS). Answers at once
   * with the send's `id`; `snapshot_sent` tells how it ended. BUSY while another copy runs;
   * WRONG_STATE when this host cannot open a channel (the caller then uses stream_snapshot).
   */
  send_snapshot: method<{ id: string }>()({ verb: 'POST', params: z.object({ to: z.union([peerAddress, channelSocket]), share: snapshotShare.optional() }).strict() }),
  /**
   * How a send_snapshot the caller started ended: its byte count once the donor's copy finished
   * and every byte was sent (null when the copy's program wrote into the channel itself, which
   * leaves nothing to count); the copy's error otherwise. Waits up to `timeoutSeconds` for a send
   * still under way (TIMEOUT then). NOT_FOUND for an id the caller did not start, or forgotten.
   */
  snapshot_sent: method<{ id: string; bytes: number | null }>()({ verb: 'POST', params: z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/), timeoutSeconds: z.number().int().min(0).max(600) }).strict() }),
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
      .object({ source: peerAddress, master: replicationSource, serverId, settings: serverSettings.optional(), share: snapshotShare.optional(), channel: snapshotChannel.optional() })
      .strict(),
  }),
  /**
   * A restore (issue #16): fills this new node's data directory from an uploaded physical backup
   * (file field `backup`, an xbstream), prepares it and starts the server, whose binary log then
   * continues from the backup's GTID position. In parts (`part`, `last`): the full backup, then
   * each incremental applied to it, the server started after the last. WRONG_STATE on a node
   * that holds data.
   */
  restore_backup: method<AgentStatus & { restoredGtid: string; bytes: number }>()({
    verb: 'UPLOAD',
    params: z.object({ serverId, settings: serverSettings.optional(), part: z.enum(['full', 'incremental']).optional(), last: z.boolean().optional() }).strict(),
    files: ['backup'],
  }),
  /**
   * A restore's replay: applies bytes `[start, stop)` of an uploaded binary log file (file field
   * `binlog`; stop null: to its end), each at a transaction boundary, with their GTIDs. Answers
   * the server's `gtid_binlog_pos` after it.
   */
  replay_binlog: method<{ gtid: string; bytes: number }>()({
    verb: 'UPLOAD',
    params: z.object({ start: z.number().int().min(4), stop: z.number().int().min(4).nullable() }).strict(),
    files: ['binlog'],
  }),
  wait_for_gtid: method<{ reached: boolean; gtid: { binlogPos: string; slavePos: string; currentPos: string } }>()({
    verb: 'POST',
    params: z
      .object({ gtid: gtidPosition, timeoutSeconds: z.number().min(0).max(3600) })
      .strict(),
  }),
  /** Fencing during a failover: stop receiving from the (lost) master; what was received is still applied. */
  stop_replica_io: method<AgentStatus>()({ verb: 'POST', params: none }),
  promote: method<AgentStatus>()({ verb: 'POST', params: none }),
  set_read_only: method<AgentStatus>()({ verb: 'POST', params: z.object({ readOnly: z.boolean() }).strict() }),
  /**
   * Fences this node as a lost master, without waiting on its server or on the agent's other
   * work: from the call on, `/primary` answers 503; the server is made read-only within
   * `deadlineMs`, else (frozen, hung) it is killed (SIGKILL) and comes back read-only when
   * restarted. Says which: `read_only`, `killed`, or `down` (it was not running).
   */
  fence: method<{ fenced: 'read_only' | 'killed' | 'down' }>()({ verb: 'POST', params: z.object({ deadlineMs: z.number().int().min(100).max(60_000) }).strict() }),
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
  /** Loads a dump (file field `mysqldump_file`) as `login` on the master: what was loaded, what was left out or rewritten (`warnings`), the databases it names, and the binary log position after it. */
  load_dump: method<LoadAnswer>()({ verb: 'UPLOAD', params: login, files: ['mysqldump_file'] }),
  /** `CHECKSUM TABLE` of every base table of these databases: `db.table` → checksum. */
  checksum_tables: method<{ tables: Record<string, number | null> }>()({ verb: 'GET', params: z.object({ schemas: z.array(z.string().min(1).max(64)).max(256) }).strict() }),
  get_counters: method<Counters>()({
    verb: 'GET',
    /** Accounts whose statements are not the clients' (e.g. the replication user); root is always left out. */
    params: z.object({ ignoreUsers: z.array(userName).max(16).optional() }).strict(),
  }),
  /**
   * Stops the server: SIGTERM, then SIGKILL past `graceMs` (ms; default the agent's stop timeout,
   * 60 s; 0 kills at once, which a replica's crash-safe replication survives).
   */
  stop: method<AgentStatus>()({ verb: 'POST', params: z.object({ graceMs: z.number().int().min(0).max(120_000).optional() }).strict() }),
  /** Sets `rpl_semi_sync_master_wait_no_slave` on this server: ON while the service has replicas, so a master cut off from them acknowledges nothing they did not receive. */
  set_wait_no_slave: method<AgentStatus>()({ verb: 'POST', params: z.object({ on: z.boolean() }).strict() }),
  /**
   * The manager's lease on a master, renewed several times a second whatever its loop is doing,
   * with where the service's replicas serve: a master that hears neither the manager nor any of
   * them fences itself (docs/failover.md, "A master cut off from everyone"). Answers whether it is fenced.
   */
  renew_lease: method<{ fenced: boolean }>()({
    verb: 'POST',
    params: z.object({ replicas: z.array(z.object({ host: z.string().min(1).max(253), port: z.number().int().min(1).max(65_535) }).strict()).max(64) }).strict(),
  }),
  /** The certificate serials (hex) of removed hosts: calls from them are refused from now on, across restarts. */
  set_denied_serials: method<{ serials: string[] }>()({ verb: 'POST', params: z.object({ serials: z.array(z.string().regex(/^[0-9A-F]{1,64}$/)).max(10_000) }).strict() }),
  /** Stops the server and deletes its data: the host is free for another node (the static cloud's destroyNode). */
  wipe: method<AgentStatus>()({ verb: 'POST', params: none }),
  /** Creates an application account on this server (the master), through its binary log; `reserved`: the product's account names it must refuse (replication, service user). */
  create_user: method<{ user: string; host: string }>()({
    verb: 'POST',
    params: z.object({ user: appUserName, host: appUserHost, password: appUserPassword, privileges: appPrivileges, databases: z.array(appDatabase).min(1).max(64).optional(), reserved: z.array(userName).max(8) }).strict(),
  }),
  /** The application accounts of this server. */
  list_users: method<{ users: AppUser[] }>()({ verb: 'GET', params: z.object({ reserved: z.array(userName).max(8) }).strict() }),
  /** Sets an application account's password, through the binary log. */
  set_user_password: method<{ user: string; host: string }>()({
    verb: 'POST',
    params: z.object({ user: appUserName, host: appUserHost, password: appUserPassword, reserved: z.array(userName).max(8) }).strict(),
  }),
  /** Drops an application account, through the binary log; `dropped` says whether there was one. */
  drop_user: method<{ user: string; host: string; dropped: boolean }>()({
    verb: 'POST',
    params: z.object({ user: appUserName, host: appUserHost, reserved: z.array(userName).max(8) }).strict(),
  }),
} as const;

/** The agent's method map, as a type. */
export type AgentApi = typeof agentApi;
