import type { AppUser } from '../protocol/app-users.js';
import type { Counters, MysqldState, ReplicationSource, ReplicationStatus } from '../protocol/agent-api.js';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';

/**
 * The one door to the database (STYLE.md: moco's dbop.Operator). Only the agent holds an
 * Engine; everything MariaDB-specific (option files, SQL text, backup tools) is behind it.
 */
/** The settings of a server that can be chosen per node (init_server's `settings`), and their defaults. */
export const DEFAULT_SERVER_SETTINGS = {
  innodbBufferPoolSize: '128M',
  maxConnections: 200,
  /** Favours no loss: a commit waits (a day) for a connected replica's acknowledgement. */
  semiSyncTimeoutMs: 86_400_000,
} as const;

/** A node's settings with the defaults filled in for what was not chosen. */
export function serverSettings(serverId: number, chosen: { innodbBufferPoolSize?: string | undefined; maxConnections?: number | undefined; semiSyncTimeoutMs?: number | undefined }): EngineSettings {
  return {
    serverId,
    innodbBufferPoolSize: chosen.innodbBufferPoolSize ?? DEFAULT_SERVER_SETTINGS.innodbBufferPoolSize,
    maxConnections: chosen.maxConnections ?? DEFAULT_SERVER_SETTINGS.maxConnections,
    semiSyncTimeoutMs: chosen.semiSyncTimeoutMs ?? DEFAULT_SERVER_SETTINGS.semiSyncTimeoutMs,
  };
}

/** What a server is started with. */
export interface EngineSettings {
  /** Its server_id, unique in the service. */
  serverId: number;
  /** InnoDB buffer pool, as MariaDB takes it (`128M`). */
  innodbBufferPoolSize: string;
  /** `max_connections`. */
  maxConnections: number;
  /** How long (ms) a commit waits for a replica's acknowledgement before going asynchronous. */
  semiSyncTimeoutMs: number;
}

/** The server process's state, as the agent reports it (`protocol/agent-api.ts`'s MysqldState). */
export type { MysqldState } from '../protocol/agent-api.js';

/** The server process: its state, pid, and how it last ended when nobody asked it to. */
export interface EngineProcess {
  /** Its state; `uninitialized` before the data directory exists. */
  state: MysqldState;
  /** Its pid while it exists, else null. */
  pid: number | null;
  /** How the last run ended (exit code or signal, ISO time), when it ended without being asked to. */
  lastExit: { code: number | null; signal: string | null; at: string } | null;
}

/** A master as a replica is pointed at it: its address and the replication login. */
export type ReplicaSource = ReplicationSource;

/** A replica's replication as the server reports it, and the account it logs in to its master as. */
export type EngineReplication = ReplicationStatus & {
  /** The replication account it logs in as. */
  masterUser: string;
};

/** What the server says of itself. */
export interface EngineStatus {
  /** Its server_id. */
  serverId: number;
  /** Its read_only. */
  readOnly: boolean;
  /** `rpl_semi_sync_master_wait_no_slave`: a commit waits for a replica's acknowledgement even with none connected. */
  waitNoSlave: boolean;
  /** `gtid_binlog_pos`, `gtid_slave_pos`, `gtid_current_pos`. */
  gtid: { binlogPos: string; slavePos: string; currentPos: string };
  /** Its replication, when it replicates. */
  replication: EngineReplication | null;
}

/** The service's accounts: replicas log in with `replication`, applications with `service`. */
export interface EngineAccounts {
  /** The replication account. */
  replication: { user: string; password: string };
  /** The service user (the application's login). */
  service: { user: string; password: string };
}

/** Where a restore's time went, ms: receiving and extracting the stream (`mbstream -x`), `--prepare`, starting the server (0 before the last part). */
export interface RestoreTimings {
  /** From the call to the stream's end, extracted. */
  extract: number;
  /** `mariadb-backup --prepare`. */
  prepare: number;
  /** Starting `mariadbd` on the restored data (the last part only). */
  start: number;
}

/**
 * A snapshot's bytes for a restore: a stream this process reads, or a feeder given the extracting
 * program's stdin (a pipe it may hand to another process, src/util/tls-channel.ts) that resolves
 * with the byte count once every byte is written — null when nobody could count them (they went
 * from program to program; the restore then counts what was extracted) — and rejects (an
 * AppError) when they cannot be.
 */
export type SnapshotInput = Readable | ((stdin: Writable) => Promise<number | null>) | ConnectionInput;

/**
 * A snapshot that arrives on a connection the extracting program reads itself (no byte passes
 * through this process): `accept` resolves with the connection once the sender is on it (it is
 * handed to the program as its stdin, and this process's end closed); `settle` then resolves
 * with the byte count (null: uncounted) once the sender says it sent everything, or rejects (an
 * AppError) — and the program is stopped at once, whether or not it has read to the end.
 */
export interface ConnectionInput {
  /** Tells this input from the other kinds of SnapshotInput. */
  kind: 'connection';
  /** The connection, paused (nothing read from it), once the sender is on it. */
  accept: () => Promise<Socket>;
  /** The sender's account, once accept() resolved. */
  settle: () => Promise<number | null>;
}

/** Which part of a restore a stream is: the full backup or an incremental on it, and whether the server starts after it. */
export interface RestoreStage {
  /** `full` first, then each `incremental` in order. */
  part: 'full' | 'incremental';
  /** The last part: the server starts after it. */
  last: boolean;
}

/** Server counters: what get_counters answers, without its time. */
export type EngineCounters = Omit<Counters, 'at'>;

/** What loading a dump did (Engine.loadDump). */
export interface LoadResult {
  /** Statements the dump held. */
  statements: number;
  /** What was left out or rewritten, one sentence per kind. */
  warnings: string[];
  /** The application databases the dump creates or switches to. */
  schemas: string[];
  /** The server's `gtid_binlog_pos` after the load (what replicas must reach to hold it all). */
  gtid: string;
}

/**
 * The one door to one node's server. Every method that needs the server running throws
 * WRONG_STATE when it is not; a SQL statement or a program that fails throws ENGINE_FAILED with
 * what failed (never the statement's text).
 */
export interface Engine {
  /** The address its server listens on. */
  readonly host: string;
  /** The port its server listens on. */
  readonly port: number;
  /** The account MariaDB's programs log in as (named like their OS user): the product's own. */
  readonly dbUserName: string;
  /** True once the data directory is complete (made by mariadb-install-db or restored). */
  isInitialized(): boolean;
  /**
   * Creates the data directory (a copy of the host's template when there is one, else
   * `mariadb-install-db`); the server is not started. Returns how: `copied`, `made`, or
   * `existing` when it was there already. Throws ENGINE_FAILED.
   */
  initialize(settings: EngineSettings): Promise<'copied' | 'made' | 'existing'>;
  /**
   * Makes the host's data-directory template when it is missing and this node holds no data yet
   * (its agent does it at start, in the background). True when the template is whole after.
   */
  prepareTemplate(): Promise<boolean>;
  /** Starts the server (rewriting its option file) and waits until it accepts connections; WRONG_STATE before initialize, TIMEOUT or ENGINE_FAILED when it does not come up. */
  start(settings: EngineSettings): Promise<void>;
  /**
   * Stops the server: SIGTERM (and SIGCONT, so a stopped process heeds it), then SIGKILL after
   * `graceMs` (default: the engine's stop timeout; 0 kills at once). Resolves once it is gone.
   */
  stop(graceMs?: number): Promise<void>;
  /** False while the server has not answered a status read that missed its deadline (frozen, hung): the agent need not wait on it again. */
  serverAnswers(): boolean;
  /** Stops the server and deletes its data directory, logs and marker: the node is new again (a host given back to the static cloud's pool). */
  wipe(): Promise<void>;
  /** SIGKILL now, without a grace period (a frozen or hung server is fenced so): resolves once it is gone. It starts read-only again, after crash recovery. */
  kill(): Promise<void>;
  /** Finds a server left running by an earlier agent on the same directory. */
  adopt(): boolean;
  /** The server process as it is now. */
  process(): EngineProcess;
  /** What the server says of itself, through the agent's kept connection. */
  status(): Promise<EngineStatus>;
  /** The replicas connected to this server as their master, where their servers serve (host, port). Throws WRONG_STATE when it does not run. */
  connectedReplicas(): Promise<{ host: string; port: number }[]>;
  /** Creates or resets the replication account (password, privileges), on the binary log. */
  ensureReplicationUser(user: string, password: string): Promise<void>;
  /** Points this server at a master (`MASTER_USE_GTID=slave_pos`) and makes it read-only. */
  configureReplica(source: ReplicaSource, gtidSlavePos?: string): Promise<void>;
  /** Stops the replication IO thread only: nothing more is received, the relay log is still applied. */
  stopReplicaIo(): Promise<void>;
  /** Stops and forgets replication, then makes the server writable. */
  promote(): Promise<void>;
  /** Sets read_only. */
  setReadOnly(readOnly: boolean): Promise<void>;
  /** Sets `rpl_semi_sync_master_wait_no_slave` (docs/failover.md, "A master cut off from its replicas"). */
  setWaitNoSlave(on: boolean): Promise<void>;
  /**
   * Takes on (`true`) or gives up the server state that belongs to the master role: the event
   * scheduler, and the events a replica holds disabled. Returns the events it enabled (`db.name`).
   */
  setMasterRole(master: boolean): Promise<string[]>;
  /**
   * Creates or resets the service user (the application's login) with this password and exactly
   * the documented privileges (engine/mariadb/grants.ts), on the binary log so replicas follow.
   */
  ensureServiceUser(user: string, password: string): Promise<void>;
  /**
   * Re-asserts every account the product owns (the agent's and the tools' socket accounts, the
   * replication account, the service user): whatever was changed behind the product's back is
   * put back. With `binlog` (the master), the service's accounts are changed through the binary
   * log; otherwise only here. Returns what was changed per account (`user@host` → what).
   */
  ensureAccounts(accounts: EngineAccounts, options: { binlog: boolean }): Promise<Record<string, string[]>>;
  /**
   * Application accounts (protocol/app-users.ts), on this server through its binary log (the
   * master's; replicas follow). `create` is WRONG_STATE for an account that exists, `setPassword`
   * NOT_FOUND for one that does not; `drop` answers whether there was one; `list` leaves out the
   * server's and the product's own accounts and `reserved`. Passwords become hashes here.
   */
  appUsers: {
    create(u: { user: string; host: string; password: string; privileges: readonly string[]; databases?: readonly string[] }): Promise<void>;
    setPassword(user: string, host: string, password: string): Promise<void>;
    drop(user: string, host: string): Promise<boolean>;
    list(reserved: readonly string[]): Promise<AppUser[]>;
  };
  /** Waits until this server has applied `gtid`; false on timeout. */
  waitForGtid(gtid: string, timeoutSeconds: number): Promise<boolean>;
  /** Server counters; client statements leave out root and `ignoreUsers`. */
  counters(ignoreUsers: readonly string[]): Promise<EngineCounters>;
  /** A physical hot copy of the running server, as an xbstream; with `incrementalLsn`, only the pages changed since that LSN. */
  snapshotStream(incrementalLsn?: number): Readable;
  /**
   * The same full copy written by the copying program straight into `out` (a connection or pipe
   * backed by a file descriptor; this process's end of it is closed): no byte passes through this
   * process. Resolves once the copy ended well; ENGINE_FAILED otherwise.
   */
  snapshotInto(out: Writable): Promise<void>;
  /**
   * Fills the (absent) data directory from a snapshot (a stream or a feeder, SnapshotInput), prepares it and starts the server;
   * returns the GTID position it was taken at and its size (bytes). With `stage`, a restore in
   * parts: a full backup, then incrementals applied to it, the server started after the `last`.
   * WRONG_STATE on a node that holds data, or for an incremental without its full backup first;
   * PEER_FAILED when the stream breaks or is incomplete.
   */
  restoreSnapshot(input: SnapshotInput, settings: EngineSettings, stage?: RestoreStage): Promise<{ gtid: string; bytes: number; ms: RestoreTimings }>;
  /** A logical dump of the user databases, streamed; the stream fails (not ends) if the dump fails. */
  dumpStream(): Promise<Readable>;
  /**
   * Loads a logical dump from a file as `login` (the service user: an upload has its uploader's
   * rights, never the system's). The dump is read whole first: a dump a rule refuses
   * (engine/mariadb/dump-policy.ts) is refused before anything runs (INVALID_PARAMS); statements
   * that would break replication or the service's accounts are left out and DEFINERs taken out
   * (`warnings` says which). A failing statement is ENGINE_FAILED with its error code, SQLSTATE
   * and line only; the databases the load created are dropped then (those that existed before
   * keep what was loaded into them). Returns the statements, the warnings, the databases the
   * dump names, and the master's binary log position after the load.
   */
  loadDump(file: string, login: { user: string; password: string }): Promise<LoadResult>;
  /** `CHECKSUM TABLE` of every base table of `schemas`: `db.table` → checksum (null when the server gives none). */
  checksumTables(schemas: readonly string[]): Promise<Record<string, number | null>>;
  /**
   * Applies bytes `[start, stop)` of a binary log file (stop null: to its end; both at transaction
   * boundaries) with their GTIDs (a restore's replay). Answers `gtid_binlog_pos` after it.
   * ENGINE_FAILED when a statement or the reader fails; WRONG_STATE when the server does not run.
   */
  replayBinlog(file: string, start: number, stop: number | null): Promise<string>;
  /** Empties the binary log and sets `gtid_binlog_state` and `gtid_slave_pos` to `gtid` (a server restored from a backup). */
  adoptGtidPosition(gtid: string): Promise<void>;
}
