import type { Readable } from 'node:stream';

/**
 * The one door to the database (STYLE.md: moco's dbop.Operator). Only the agent holds an
 * Engine; everything MariaDB-specific (option files, SQL text, backup tools) is behind it.
 */
export interface EngineSettings {
  serverId: number;
  innodbBufferPoolSize: string;
  maxConnections: number;
  semiSyncTimeoutMs: number;
}

export type EngineProcessState = 'uninitialized' | 'stopped' | 'starting' | 'running' | 'stopping' | 'crashed';

export interface EngineProcess {
  state: EngineProcessState;
  pid: number | null;
  lastExit: { code: number | null; signal: string | null; at: string } | null;
}

export interface ReplicaSource {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface EngineReplication {
  masterHost: string;
  masterPort: number;
  masterUser: string;
  ioRunning: string;
  sqlRunning: string;
  secondsBehindMaster: number | null;
  gtidIoPos: string;
  lastIoError: string;
  lastSqlError: string;
}

export interface EngineStatus {
  serverId: number;
  readOnly: boolean;
  gtid: { binlogPos: string; slavePos: string; currentPos: string };
  replication: EngineReplication | null;
}

/** The service's accounts: replicas log in with `replication`, applications with `service`. */
export interface EngineAccounts {
  replication: { user: string; password: string };
  service: { user: string; password: string };
}

export interface EngineCounters {
  uptimeSeconds: number;
  status: Record<string, number>;
  statements: { count: number; errors: number; latencyPicoseconds: number };
}

export interface Engine {
  readonly host: string;
  readonly port: number;
  /** The account MariaDB's programs log in as (named like their OS user): the product's own. */
  readonly dbUserName: string;
  isInitialized(): boolean;
  /** Creates the data directory. The server is not started. */
  initialize(settings: EngineSettings): Promise<void>;
  /** Starts the server (rewriting its option file) and waits until it accepts connections. */
  start(settings: EngineSettings): Promise<void>;
  stop(): Promise<void>;
  /** Finds a server left running by an earlier agent on the same directory. */
  adopt(): boolean;
  process(): EngineProcess;
  status(): Promise<EngineStatus>;
  ensureReplicationUser(user: string, password: string): Promise<void>;
  /** Points this server at a master (`MASTER_USE_GTID=slave_pos`) and makes it read-only. */
  configureReplica(source: ReplicaSource, gtidSlavePos?: string): Promise<void>;
  /** Stops the replication IO thread only: nothing more is received, the relay log is still applied. */
  stopReplicaIo(): Promise<void>;
  /** Stops and forgets replication, then makes the server writable. */
  promote(): Promise<void>;
  setReadOnly(readOnly: boolean): Promise<void>;
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
  /** Waits until this server has applied `gtid`; false on timeout. */
  waitForGtid(gtid: string, timeoutSeconds: number): Promise<boolean>;
  /** Server counters; client statements leave out root and `ignoreUsers`. */
  counters(ignoreUsers: readonly string[]): Promise<EngineCounters>;
  /** A physical hot copy of the running server, as an xbstream. */
  snapshotStream(): Readable;
  /** Replaces the (absent) data directory with a snapshot; returns the GTID it was taken at. */
  restoreSnapshot(stream: Readable, settings: EngineSettings): Promise<{ gtid: string; bytes: number }>;
  /** A logical dump of the user databases. */
  dumpStream(): Promise<Readable>;
  /**
   * Loads a logical dump from a file as `login` (the service user: an upload has its uploader's
   * rights, never the system's). A dump that breaks a rule (engine/mariadb/dump-policy.ts) is
   * refused before anything runs (INVALID_PARAMS); a failing statement is ENGINE_FAILED with its
   * error code, SQLSTATE and line only. Returns how many statements the dump held.
   */
  loadDump(file: string, login: { user: string; password: string }): Promise<{ statements: number }>;
}
