import { describe, expect, it } from 'vitest';
import { computePerformance, pairsFor, percentile95, servicePerformance, type CounterPair } from '../../src/manager/core/performance.js';
import type { Counters } from '../../src/protocol/agent-api.js';
import type { NodeRole } from '../../src/protocol/manager-api.js';

/** One picosecond count per millisecond. */
const MS = 1e9;
const T0 = '2024-06-11T10:00:00.000Z';

function at(secondsAfterT0: number): string {
  return new Date(Date.parse(T0) + secondsAfterT0 * 1000).toISOString();
}

interface Sample {
  at: string;
  uptime: number;
  statements: number;
  errors?: number;
  latencyPs?: number;
  binlogCommits?: number;
}

function counters(s: Sample): Counters {
  return {
    at: s.at,
    uptimeSeconds: s.uptime,
    status: s.binlogCommits === undefined ? { Threads_connected: 3 } : { Threads_connected: 3, Binlog_commits: s.binlogCommits },
    statements: { count: s.statements, errors: s.errors ?? 0, latencyPicoseconds: s.latencyPs ?? 0 },
  };
}

function pair(role: NodeRole, prev: Sample, cur: Sample): CounterPair {
  return { role, prev: counters(prev), cur: counters(cur) };
}

/**
 * Two samples `seconds` apart on a node up for a while, with the given deltas; the counters
 * start from non-zero values so that a figure computed from totals instead of deltas shows.
 */
function delta(role: NodeRole, seconds: number, d: { statements: number; errors?: number; meanMs?: number; commits?: number }, startAt = 0): CounterPair {
  const base = { statements: 10_000, errors: 70, latencyPs: 5_000 * MS, binlogCommits: 900 };
  return pair(
    role,
    { at: at(startAt), uptime: 1_000, ...base },
    {
      at: at(startAt + seconds),
      uptime: 1_000 + seconds,
      statements: base.statements + d.statements,
      errors: base.errors + (d.errors ?? 0),
      latencyPs: base.latencyPs + d.statements * (d.meanMs ?? 0) * MS,
      binlogCommits: base.binlogCommits + (d.commits ?? 0),
    },
  );
}

describe('computePerformance', () => {
  it('gives a master’s figures from two samples 2 s apart', () => {
    const p = computePerformance({ 'node-1': delta('master', 2, { statements: 200, errors: 6, meanMs: 1.5, commits: 40 }) });
    const figures = { request_rate: 100, error_rate: 3, throughput: 20, response_time: 1.5, response_time_p95: null };
    expect(p).toEqual({ ...figures, interval: 2, at: at(2), nodes: { 'node-1': { ...figures, role: 'master' } } });
  });

  it('counts a replica’s statements but not its binary log commits', () => {
    const p = computePerformance({ 'node-2': delta('replica', 2, { statements: 50, meanMs: 2, commits: 40 }) });
    expect(p.request_rate).toBe(25);
    expect(p.throughput).toBe(0);
    expect(p.nodes['node-2']).toEqual({ request_rate: 25, error_rate: 0, throughput: 0, response_time: 2, response_time_p95: null, role: 'replica' });
  });

  it('sums rates over nodes and weights the latency by statements', () => {
    const p = computePerformance({
      'node-1': delta('master', 2, { statements: 200, errors: 2, meanMs: 1, commits: 40 }),
      'node-2': delta('replica', 2, { statements: 600, errors: 4, meanMs: 3, commits: 40 }),
      'node-3': delta('replica', 4, { statements: 400, meanMs: 0.5 }, 1),
    });
    expect(p.request_rate).toBe(100 + 300 + 100);
    expect(p.error_rate).toBe(1 + 2);
    expect(p.throughput).toBe(20);
    // (200×1 + 600×3 + 400×0.5) / 1200 ms, not the mean of the three means (1.5 ms).
    expect(p.response_time).toBe(1.833);
    expect(p.interval).toBe(4);
    expect(p.at).toBe(at(5));
    expect(Object.keys(p.nodes).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    expect(p.nodes['node-3']).toEqual({ request_rate: 100, error_rate: 0, throughput: 0, response_time: 0.5, response_time_p95: null, role: 'replica' });
  });

  it('skips a node whose server restarted between the samples (uptime went down)', () => {
    const restarted = pair(
      'replica',
      { at: at(0), uptime: 5_000, statements: 90_000, errors: 50, latencyPs: 9_000 * MS },
      { at: at(2), uptime: 1, statements: 10, errors: 0, latencyPs: 10 * MS },
    );
    const p = computePerformance({ 'node-1': delta('master', 2, { statements: 200, meanMs: 1, commits: 10 }), 'node-2': restarted });
    expect(p.nodes['node-2']).toBeUndefined();
    expect(p).toMatchObject({ request_rate: 100, error_rate: 0, throughput: 5, response_time: 1, interval: 2 });
  });

  it('gives zeros, interval 0 and no time when the only pair is a reset', () => {
    const restarted = pair('master', { at: at(0), uptime: 600, statements: 500, binlogCommits: 80 }, { at: at(2), uptime: 2, statements: 3, binlogCommits: 1 });
    expect(computePerformance({ 'node-1': restarted })).toEqual({ request_rate: 0, error_rate: 0, throughput: 0, response_time: 0, response_time_p95: null, interval: 0, at: null, nodes: {} });
  });

  it('gives a response time of 0 when no statement ran', () => {
    const p = computePerformance({ 'node-1': delta('master', 2, { statements: 0 }) });
    expect(p).toEqual({
      request_rate: 0,
      error_rate: 0,
      throughput: 0,
      response_time: 0,
      response_time_p95: null,
      interval: 2,
      at: at(2),
      nodes: { 'node-1': { request_rate: 0, error_rate: 0, throughput: 0, response_time: 0, response_time_p95: null, role: 'master' } },
    });
  });

  it('gives zeros and interval 0 without any pair', () => {
    expect(computePerformance({})).toEqual({ request_rate: 0, error_rate: 0, throughput: 0, response_time: 0, response_time_p95: null, interval: 0, at: null, nodes: {} });
  });

  it('skips a pair whose samples are not in time order', () => {
    const same = pair('master', { at: at(2), uptime: 10, statements: 1 }, { at: at(2), uptime: 10, statements: 9 });
    const backwards = pair('replica', { at: at(3), uptime: 10, statements: 1 }, { at: at(1), uptime: 12, statements: 9 });
    expect(computePerformance({ 'node-1': same, 'node-2': backwards })).toEqual(computePerformance({}));
  });

  it('reads a missing Binlog_commits as no commit', () => {
    const p = computePerformance({ 'node-1': pair('master', { at: at(0), uptime: 10, statements: 0 }, { at: at(2), uptime: 12, statements: 8, latencyPs: 8 * MS }) });
    expect(p).toMatchObject({ request_rate: 4, throughput: 0, response_time: 1 });
  });

  it('rounds the figures to three decimals', () => {
    const p = computePerformance({ 'node-1': delta('master', 3, { statements: 1, meanMs: 2 / 3, commits: 2 }) });
    expect(p).toMatchObject({ request_rate: 0.333, throughput: 0.667, response_time: 0.667, interval: 3 });
  });
});

/** A node's history: one sample a second for `seconds`, a burst of `burst` statements at second `burstAt`, the histogram's buckets filled with the burst's latencies. */
function history(seconds: number, burstAt: number, burst: number, latencyMs: number, restartAt: number | null = null): Counters[] {
  const out: Counters[] = [];
  let statements = 1000;
  let uptime = 5000;
  const buckets = new Map<number | null, number>([[0.001, 0], [0.004, 0], [0.016, 0], [null, 0]]);
  for (let t = 0; t <= seconds; t++) {
    if (restartAt !== null && t === restartAt) {
      uptime = 0;
      statements = 0;
    }
    if (t === burstAt) {
      statements += burst;
      const bound = [...buckets.keys()].find((b) => b !== null && latencyMs / 1000 <= b) ?? null;
      buckets.set(bound, buckets.get(bound)! + burst);
    }
    out.push({
      at: at(t),
      uptimeSeconds: uptime + t,
      status: { Binlog_commits: statements },
      statements: { count: statements, errors: 0, latencyPicoseconds: statements * latencyMs * MS },
      latencyHistogram: [...buckets.entries()].map(([upperSeconds, count]) => ({ upperSeconds, count })),
    });
  }
  return out;
}

describe('performance windows', () => {
  it('a burst 5 s ago: nothing "now", the 1-minute figure shows it (the issue\'s complaint)', () => {
    const p = servicePerformance({ 'node-1': { role: 'master', samples: history(65, 60, 600, 3) } }, '1m');
    expect(p.window).toBe('1m');
    expect(p.windows.now.request_rate).toBe(0);
    expect(p.request_rate).toBe(10); // 600 statements over the last 60 s
    expect(p.windows['1m'].interval).toBe(60);
    expect(p.windows['5m'].interval).toBe(65); // less history than the window: what there is, said in `interval`
    expect(p.windows['5m'].request_rate).toBe(round3(600 / 65));
  });

  it('a window never reaches across a restart of the server (its counters start again)', () => {
    const pairs = pairsFor({ 'node-1': { role: 'master', samples: history(30, 25, 100, 1, 20) } }, 60);
    expect(Date.parse(pairs['node-1']!.prev.at)).toBe(Date.parse(at(20)));
  });

  it('"now" is the last two samples', () => {
    const pairs = pairsFor({ 'node-1': { role: 'master', samples: history(10, 10, 50, 1) } }, null);
    expect(pairs['node-1']!.prev.at).toBe(at(9));
    expect(pairs['node-1']!.cur.at).toBe(at(10));
  });

  it('p95 is the upper bound of the bucket where 95 % of the statements are counted, over the window, across nodes', () => {
    const p = servicePerformance({ 'node-1': { role: 'master', samples: history(65, 60, 600, 3) }, 'node-2': { role: 'replica', samples: history(65, 61, 20, 10) } }, '1m');
    // 600 statements ≤ 4 ms and 20 ≤ 16 ms: 95 % of 620 is 589, reached in the 4 ms bucket.
    expect(p.response_time_p95).toBe(4);
    expect(p.nodes['node-2']!.response_time_p95).toBe(16);
    expect(p.windows.now.response_time_p95).toBeNull();
  });

  it('percentile95 over buckets, and null when it falls beyond the last bound', () => {
    expect(percentile95(new Map<number | null, number>([[0.001, 94], [0.002, 1], [null, 5]]))).toBe(2);
    expect(percentile95(new Map<number | null, number>([[0.001, 90], [null, 10]]))).toBeNull();
    expect(percentile95(new Map<number | null, number>([[0.001, 0]]))).toBeNull();
  });
});

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
