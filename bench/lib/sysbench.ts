import { runCmd } from './proc.js';

/** Where sysbench connects: a node's socket as root, or TCP as a service user. */
export type SbTarget = { db: string } & ({ socket: string } | { host: string; port: number; user: string; password: string });

function connArgs(t: SbTarget): string[] {
  const common = ['--db-driver=mysql', `--mysql-db=${t.db}`];
  if ('socket' in t) return [...common, `--mysql-socket=${t.socket}`, '--mysql-user=root'];
  return [...common, `--mysql-host=${t.host}`, `--mysql-port=${t.port}`, `--mysql-user=${t.user}`, `--mysql-password=${t.password}`];
}

/** `sysbench oltp_common prepare`: the tables and rows; returns milliseconds. */
export async function sbPrepare(t: SbTarget, tables: number, tableSize: number, threads = 2): Promise<number> {
  const r = await runCmd('sysbench', ['oltp_common', ...connArgs(t), `--tables=${tables}`, `--table-size=${tableSize}`, `--threads=${Math.min(threads, tables)}`, 'prepare']);
  return r.ms;
}

export interface SbFigures {
  /** Transactions per second. */
  tps: number;
  /** Queries per second. */
  qps: number;
  /** 95th percentile of transaction latency, ms. */
  p95: number;
  errors: number;
}

/** One `sysbench <test> run` of `seconds`, parsed. */
export async function sbRun(t: SbTarget, test: string, tables: number, tableSize: number, threads: number, seconds: number): Promise<SbFigures> {
  const r = await runCmd('sysbench', [test, ...connArgs(t), `--tables=${tables}`, `--table-size=${tableSize}`, `--threads=${threads}`, `--time=${seconds}`, '--report-interval=0', 'run'], {
    timeoutMs: (seconds + 120) * 1000,
  });
  const num = (re: RegExp): number => {
    const m = re.exec(r.stdout);
    return m ? Number(m[1]) : Number.NaN;
  };
  return {
    tps: num(/transactions:\s+[0-9]+\s+\(([0-9.]+) per sec/),
    qps: num(/queries:\s+[0-9]+\s+\(([0-9.]+) per sec/),
    p95: num(/95th percentile:\s+([0-9.]+)/),
    errors: num(/ignored errors:\s+([0-9]+)/),
  };
}
