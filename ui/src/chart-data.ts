import type { NodeHistory, PerformancePoint } from '../../src/protocol/manager-api.js';

/** Columns uPlot draws: x in seconds since the epoch, then one column per series (null where a series has no point). */
export interface Aligned {
  /** Seconds since the epoch, ascending, without repeats. */
  x: number[];
  /** One label per series. */
  labels: string[];
  /** One column per series, as long as `x`. */
  series: (number | null)[][];
}

/**
 * Seconds per point on the charts' time axis: each node's points (read by its own agent, at its
 * own moments and clock) are averaged over these steps so that every node has a value at the
 * same times.
 */
export const STEP_SECONDS = 5;

/**
 * Puts the nodes' points on one time axis of STEP_SECONDS steps (each value the mean of a node's
 * points in the step): `pick` chooses the figure of a point (null: no value). Nodes are series
 * in the order given. Pure.
 */
export function alignNodes(nodes: NodeHistory[], pick: (p: PerformancePoint) => number | null): Aligned {
  const xs = new Set<number>();
  const byNode = nodes.map((n) => {
    const sums = new Map<number, { total: number; count: number }>();
    for (const p of n.points) {
      const t = Math.floor(Date.parse(p.at) / 1000 / STEP_SECONDS) * STEP_SECONDS;
      xs.add(t);
      const v = pick(p);
      if (v === null) continue;
      const s = sums.get(t) ?? { total: 0, count: 0 };
      s.total += v;
      s.count += 1;
      sums.set(t, s);
    }
    return sums;
  });
  const x = [...xs].sort((a, b) => a - b);
  return {
    x,
    labels: nodes.map((n) => n.id),
    series: byNode.map((m) =>
      x.map((t) => {
        const s = m.get(t);
        return s ? s.total / s.count : null;
      }),
    ),
  };
}

/**
 * The service's reads and writes per second, summed over its nodes at each time (a time where
 * no node has a point is left out). Pure.
 */
export function readWriteMix(nodes: NodeHistory[]): Aligned {
  const reads = alignNodes(nodes, (p) => p.readsPerSecond);
  const writes = alignNodes(nodes, (p) => p.writesPerSecond);
  const sum = (cols: (number | null)[][], i: number): number | null => {
    let total: number | null = null;
    for (const c of cols) {
      const v = c[i];
      if (v !== null && v !== undefined) total = (total ?? 0) + v;
    }
    return total;
  };
  return {
    x: reads.x,
    labels: ['reads', 'writes'],
    series: [reads.x.map((_, i) => sum(reads.series, i)), writes.x.map((_, i) => sum(writes.series, i))],
  };
}
