import type { Counters } from '../../protocol/agent-api.js';
import type { NodeRole, PerformanceFigures, PerformanceWindow, ServicePerformance, WindowPerformance } from '../../protocol/manager-api.js';
import { PERFORMANCE_WINDOWS } from '../../protocol/manager-api.js';

/** Two samples of one node's counters. */
export interface CounterPair {
  /** The node's role (commits count on the master only). */
  role: NodeRole;
  /** The earlier sample. */
  prev: Counters;
  /** The later sample. */
  cur: Counters;
}

/** One node's samples, oldest first, as the observer keeps them (about one a second). */
export interface CounterHistory {
  /** The node's role now. */
  role: NodeRole;
  /** Its samples, oldest first. */
  samples: Counters[];
}

/** Seconds each window spans; `now` is the last two samples. */
export const WINDOW_SECONDS: Record<Exclude<PerformanceWindow, 'now'>, number> = { '1m': 60, '5m': 300, '15m': 900 };

const PS_PER_MS = 1e9;

interface Deltas {
  seconds: number;
  statements: number;
  errors: number;
  latencyPs: number;
  commits: number;
  /** Statements per histogram bucket (upper bound in seconds, null: beyond the last), or null without a histogram. */
  buckets: Map<number | null, number> | null;
}

function bucketDeltas(p: CounterPair): Map<number | null, number> | null {
  const a = p.prev.latencyHistogram;
  const b = p.cur.latencyHistogram;
  if (!a || !b) return null;
  const before = new Map(a.map((x) => [x.upperSeconds, x.count]));
  const out = new Map<number | null, number>();
  for (const x of b) {
    const d = x.count - (before.get(x.upperSeconds) ?? 0);
    // A flushed histogram (or a 32-bit counter that wrapped) gives no figure from this pair.
    if (d < 0) return null;
    out.set(x.upperSeconds, d);
  }
  return out;
}

/**
 * The seconds between two samples of one server's counters, or null when no figure can be had
 * from the pair: no time between them, or the server restarted in between (its counters began
 * again). Pure.
 */
export function intervalSeconds(prev: Counters, cur: Counters): number | null {
  const seconds = (Date.parse(cur.at) - Date.parse(prev.at)) / 1000;
  return seconds > 0 && cur.uptimeSeconds >= prev.uptimeSeconds ? seconds : null;
}

/** How much a counter grew from `before` to `after` (0 for a counter that went down or is missing). */
export function growth(after: number | undefined, before: number | undefined): number {
  return Math.max(0, (after ?? 0) - (before ?? 0));
}

function deltas(p: CounterPair): Deltas | null {
  const seconds = intervalSeconds(p.prev, p.cur);
  if (seconds === null) return null;
  const d = growth;
  return {
    seconds,
    statements: d(p.cur.statements.count, p.prev.statements.count),
    errors: d(p.cur.statements.errors, p.prev.statements.errors),
    latencyPs: d(p.cur.statements.latencyPicoseconds, p.prev.statements.latencyPicoseconds),
    // Write transactions committed by clients: counted once, on the master's binary log.
    commits: p.role === 'master' ? d(p.cur.status['Binlog_commits'] ?? 0, p.prev.status['Binlog_commits'] ?? 0) : 0,
    buckets: bucketDeltas(p),
  };
}

/**
 * The 95th percentile from statements per bucket, in milliseconds: the upper bound of the first
 * bucket (in increasing order) at which 95 % of the statements are counted; null with no
 * statement, or when it falls in the last, unbounded bucket's range (reported as its lower bound
 * would mislead: null, "above the largest bound").
 */
export function percentile95(buckets: Map<number | null, number>): number | null {
  const ordered = [...buckets.entries()].sort((x, y) => (x[0] === null ? 1 : y[0] === null ? -1 : x[0] - y[0]));
  const total = ordered.reduce((n, [, c]) => n + c, 0);
  if (total === 0) return null;
  let seen = 0;
  for (const [upper, c] of ordered) {
    seen += c;
    if (seen >= total * 0.95) return upper === null ? null : round(upper * 1000);
  }
  return null;
}

function figures(d: Deltas): PerformanceFigures {
  return {
    request_rate: round(d.statements / d.seconds),
    error_rate: round(d.errors / d.seconds),
    throughput: round(d.commits / d.seconds),
    response_time: d.statements > 0 ? round(d.latencyPs / d.statements / PS_PER_MS) : 0,
  };
}

function addBuckets(into: Map<number | null, number>, from: Map<number | null, number>): void {
  for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + v);
}

/**
 * The service's performance between two samples of each node's counters (docs/metrics.md):
 * - request_rate: client statements per second (performance_schema, the agent's own left out);
 * - error_rate: client statements that ended in an error, per second;
 * - throughput: write transactions committed per second (the master's binary log commits);
 * - response_time: mean statement latency in milliseconds, weighted by statements;
 * - response_time_p95: the 95th percentile of statement latency (query_response_time histogram).
 * Rates are summed over nodes; the latency figures are over every statement of every node.
 */
export function computePerformance(pairs: Record<string, CounterPair>): WindowPerformance {
  const nodes: WindowPerformance['nodes'] = {};
  let statements = 0;
  let latencyPs = 0;
  let seconds = 0;
  let latest: string | null = null;
  let buckets: Map<number | null, number> | null = null;
  const total = { request_rate: 0, error_rate: 0, throughput: 0 };
  for (const [id, pair] of Object.entries(pairs)) {
    const d = deltas(pair);
    if (!d) continue;
    const f = figures(d);
    nodes[id] = { ...f, response_time_p95: d.buckets ? percentile95(d.buckets) : null, role: pair.role };
    total.request_rate += f.request_rate;
    total.error_rate += f.error_rate;
    total.throughput += f.throughput;
    statements += d.statements;
    latencyPs += d.latencyPs;
    if (d.buckets) addBuckets((buckets ??= new Map()), d.buckets);
    seconds = Math.max(seconds, d.seconds);
    if (latest === null || pair.cur.at > latest) latest = pair.cur.at;
  }
  return {
    request_rate: round(total.request_rate),
    error_rate: round(total.error_rate),
    throughput: round(total.throughput),
    response_time: statements > 0 ? round(latencyPs / statements / PS_PER_MS) : 0,
    response_time_p95: buckets ? percentile95(buckets) : null,
    interval: round(seconds),
    at: latest,
    nodes,
  };
}

/**
 * Each node's pair of samples for a window: the last sample, and the oldest one at most `seconds`
 * before it taken since the server last started (counters restart with it). `now` (seconds null):
 * the last two samples. Nodes with fewer than two usable samples are left out.
 */
export function pairsFor(history: Record<string, CounterHistory>, seconds: number | null): Record<string, CounterPair> {
  const out: Record<string, CounterPair> = {};
  for (const [id, h] of Object.entries(history)) {
    const s = h.samples;
    const cur = s[s.length - 1];
    if (!cur || s.length < 2) continue;
    let first = s.length - 2;
    if (seconds !== null) {
      const from = Date.parse(cur.at) - seconds * 1000;
      first = s.length - 1;
      // Walk back while still in the window and the server did not restart in between.
      while (first > 0 && Date.parse(s[first - 1]!.at) >= from && s[first - 1]!.uptimeSeconds <= s[first]!.uptimeSeconds) first--;
      if (first === s.length - 1) continue;
    }
    out[id] = { role: h.role, prev: s[first]!, cur };
  }
  return out;
}

/** The service's performance over every window, with the top-level figures of `window` (get_service_performance). */
export function servicePerformance(history: Record<string, CounterHistory>, window: PerformanceWindow): ServicePerformance {
  const windows = Object.fromEntries(
    PERFORMANCE_WINDOWS.map((w) => [w, computePerformance(pairsFor(history, w === 'now' ? null : WINDOW_SECONDS[w]))]),
  ) as Record<PerformanceWindow, WindowPerformance>;
  return { ...windows[window], window, windows };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
