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

export interface EngineCounters {
  uptimeSeconds: number;
  status: Record<string, number>;
  statements: { count: number; errors: number; latencyPicoseconds: number };
}

export interface Engine {
  readonly host: string;
  readonly port: number;
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
  setUserPassword(user: string, password: string): Promise<void>;
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
  /** Loads a logical dump from a file. */
  loadDump(file: string): Promise<void>;
}
