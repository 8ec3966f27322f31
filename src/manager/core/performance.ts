import type { Counters } from '../../protocol/agent-api.js';
import type { NodeRole, PerformanceFigures, ServicePerformance } from '../../protocol/manager-api.js';

/** Two samples of one node's counters. */
export interface CounterPair {
  /** The node's role (commits count on the master only). */
  role: NodeRole;
  /** The earlier sample. */
  prev: Counters;
  /** The later sample. */
  cur: Counters;
}

const PS_PER_MS = 1e9;

interface Deltas {
  seconds: number;
  statements: number;
  errors: number;
  latencyPs: number;
  commits: number;
}

function deltas(p: CounterPair): Deltas | null {
  const seconds = (Date.parse(p.cur.at) - Date.parse(p.prev.at)) / 1000;
  // A restarted server resets its counters: no figure from that pair.
  if (!(seconds > 0) || p.cur.uptimeSeconds < p.prev.uptimeSeconds) return null;
  const d = (a: number, b: number): number => Math.max(0, a - b);
  return {
    seconds,
    statements: d(p.cur.statements.count, p.prev.statements.count),
    errors: d(p.cur.statements.errors, p.prev.statements.errors),
    latencyPs: d(p.cur.statements.latencyPicoseconds, p.prev.statements.latencyPicoseconds),
    // Write transactions committed by clients: counted once, on the master's binary log.
    commits: p.role === 'master' ? d(p.cur.status['Binlog_commits'] ?? 0, p.prev.status['Binlog_commits'] ?? 0) : 0,
  };
}

function figures(d: Deltas): PerformanceFigures {
  return {
    request_rate: round(d.statements / d.seconds),
    error_rate: round(d.errors / d.seconds),
    throughput: round(d.commits / d.seconds),
    response_time: d.statements > 0 ? round(d.latencyPs / d.statements / PS_PER_MS) : 0,
  };
}

/**
 * The service's performance over the last monitoring interval, from two samples of each
 * node's counters (docs/metrics.md):
 * - request_rate: client statements per second (performance_schema, the agent's own left out);
 * - error_rate: client statements that ended in an error, per second;
 * - throughput: write transactions committed per second (the master's binary log commits);
 * - response_time: mean statement latency in milliseconds, weighted by statements.
 * Rates are summed over nodes; the latency is the mean over every statement of every node.
 */
export function computePerformance(pairs: Record<string, CounterPair>): ServicePerformance {
  const nodes: ServicePerformance['nodes'] = {};
  let statements = 0;
  let latencyPs = 0;
  let seconds = 0;
  let latest: string | null = null;
  const total = { request_rate: 0, error_rate: 0, throughput: 0 };
  for (const [id, pair] of Object.entries(pairs)) {
    const d = deltas(pair);
    if (!d) continue;
    const f = figures(d);
    nodes[id] = { ...f, role: pair.role };
    total.request_rate += f.request_rate;
    total.error_rate += f.error_rate;
    total.throughput += f.throughput;
    statements += d.statements;
    latencyPs += d.latencyPs;
    seconds = Math.max(seconds, d.seconds);
    if (latest === null || pair.cur.at > latest) latest = pair.cur.at;
  }
  return {
    request_rate: round(total.request_rate),
    error_rate: round(total.error_rate),
    throughput: round(total.throughput),
    response_time: statements > 0 ? round(latencyPs / statements / PS_PER_MS) : 0,
    interval: round(seconds),
    at: latest,
    nodes,
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
