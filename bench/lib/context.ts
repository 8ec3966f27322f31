import type { Results } from './results.js';

export type Mode = 'quick' | 'full';

/** The sizes and durations of one benchmark run. */
export interface Config {
  mode: Mode;
  /** Rounds per item: each figure is measured this many times, interleaved with the others. */
  runs: number;
  /** sysbench data set on the provisioning master. */
  tables: number;
  tableSize: number;
  /** The small CPU-bound data set of the monitoring-overhead item. */
  monitorTables: number;
  monitorTableSize: number;
  /** Seconds of each sysbench oltp_read_write run. */
  sysbenchSeconds: number;
  /** Seconds of each autocannon run. */
  cannonSeconds: number;
  /** Replicas added at once in the parallel-provisioning item. */
  parallel: number[];
  /** Concurrent clients of the control-plane item. */
  connections: number[];
}

export interface Ctx {
  config: Config;
  /** The temporary directory holding everything this run creates. */
  root: string;
  /** The built `cps-mysql` CLI. */
  cli: string;
  results: Results;
  /** Leave the directories (logs, data) in place for a post-mortem; processes are stopped all the same. */
  keep: boolean;
  log(message: string): void;
}

export function configFor(mode: Mode, runs?: number): Config {
  const quick = mode === 'quick';
  return {
    mode,
    runs: runs ?? (quick ? 1 : 3),
    // ~250 bytes a row on disk: 8 × 450k ≈ 0.9 GiB of tables, ≈ 1.1 GiB of data directory;
    // 4 × 75k ≈ 75 MiB of tables.
    tables: quick ? 4 : 8,
    tableSize: quick ? 75_000 : 450_000,
    monitorTables: 4,
    monitorTableSize: quick ? 10_000 : 25_000,
    sysbenchSeconds: quick ? 8 : 20,
    cannonSeconds: quick ? 2 : 5,
    parallel: [1, 2, 4],
    connections: [1, 16, 128],
  };
}
