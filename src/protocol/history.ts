import type { NodeRole } from './manager-api.js';

/* The web console's 15-minute history of each node (get_performance_history). */

/** One point of a node's performance history: rates over the interval that ends at `at`. */
export interface PerformancePoint {
  /** The end of the interval (ISO time). */
  at: string;
  /** Client statements per second (the agent's own and replication's left out). */
  statementsPerSecond: number;
  /** Client SELECTs per second; null from an agent that does not tell them apart. */
  readsPerSecond: number | null;
  /** Client INSERT, UPDATE, DELETE and REPLACE statements per second; null as for reads. */
  writesPerSecond: number | null;
  /** Transactions written to the binary log per second (`Binlog_commits`): the master's commits, a replica's applied transactions. */
  commitsPerSecond: number;
  /** Mean latency of the client statements in the interval, milliseconds; null when there was none. */
  latencyMs: number | null;
  /** Connections open at `at` (`Threads_connected`). */
  connections: number;
}

/** What a node's data takes on its disk, bytes (the agent reads it at most every 10 s). */
export interface DiskUsage {
  /** Everything under the data directory, binary and relay logs included. */
  dataBytes: number;
  /** Free space on the data directory's file system, for an unprivileged user. */
  freeBytes: number;
  /** The size of that file system. */
  sizeBytes: number;
  /** The binary logs. */
  binlogBytes: number;
  /** The relay logs. */
  relayLogBytes: number;
}

/** One node's last 15 minutes, as get_performance_history answers them. */
export interface NodeHistory {
  /** The node's id. */
  id: string;
  /** Its role now. */
  role: NodeRole;
  /** Its points, oldest first, about one per monitoring check. */
  points: PerformancePoint[];
  /** Its disk at the last sample, or null when its agent did not tell. */
  disk: DiskUsage | null;
  /** Its server's version at the last sample (`@@version`), or null when unknown. */
  version: string | null;
  /** On the master: the replicas acknowledging its commits now (`Rpl_semi_sync_master_clients`); null elsewhere or unknown. */
  semiSyncClients: number | null;
}

/** What get_performance_history answers: each ready node's last 15 minutes. */
export interface PerformanceHistory {
  /** The span the points cover at most, seconds (900). */
  windowSeconds: number;
  /** One entry per ready node, in id order. */
  nodes: NodeHistory[];
}
