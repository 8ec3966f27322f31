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
 * Puts the nodes' points on one time axis (whole seconds): `pick` chooses the figure of a point
 * (null: no value). Nodes are series in the order given. Pure.
 */
export function alignNodes(nodes: NodeHistory[], pick: (p: PerformancePoint) => number | null): Aligned {
  const xs = new Set<number>();
  const byNode = nodes.map((n) => {
    const m = new Map<number, number | null>();
    for (const p of n.points) {
      const t = Math.round(Date.parse(p.at) / 1000);
      xs.add(t);
      m.set(t, pick(p));
    }
    return m;
  });
  const x = [...xs].sort((a, b) => a - b);
  return { x, labels: nodes.map((n) => n.id), series: byNode.map((m) => x.map((t) => m.get(t) ?? null)) };
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
