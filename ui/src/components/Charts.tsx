import { useEffect, useMemo, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { NodeHistory } from '../../../src/protocol/manager-api.js';
import { alignNodes, readWriteMix, type Aligned } from '../chart-data.js';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];
const HEIGHT = 160;
/** The span each chart shows, seconds. */
const WINDOW_SECONDS = 900;

/** One time-series chart, redrawn in place as data comes and resized with its box. */
function Chart({ title, unit, data }: { title: string; unit: string; data: Aligned }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = data.labels.join('\u0000');
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: HEIGHT,
      // A step without a point (a check missed) is bridged; a node that stopped reporting ends its line.
      series: [{}, ...data.labels.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true }))],
      axes: [{}, { size: 56, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => `${+t.toPrecision(3)}${unit}`) }],
      // The last 15 minutes up to the newest point, or what there is of them yet.
      scales: { x: { time: true, range: (_u: uPlot, min: number, max: number) => (min < max ? [Math.max(min, max - WINDOW_SECONDS), max] : [max - 60, max]) } },
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    const u = new uPlot(opts, [data.x, ...data.series] as uPlot.AlignedData, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape, unit]);
  useEffect(() => {
    plot.current?.setData([data.x, ...data.series] as uPlot.AlignedData);
  }, [data]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}, last 15 minutes`} />
    </figure>
  );
}

/** The last 15 minutes of each node: statements/s, the read/write mix, commits/s, mean latency, connections. */
export function Charts({ nodes }: { nodes: NodeHistory[] }) {
  // Rebuilt when a new history arrives (every 5 s), not at every render of the page.
  const charts = useMemo(() => {
    const live = nodes.filter((n) => n.points.length > 0);
    return live.length === 0
      ? null
      : {
          statements: alignNodes(live, (p) => p.statementsPerSecond),
          mix: readWriteMix(live),
          commits: alignNodes(live, (p) => p.commitsPerSecond),
          latency: alignNodes(live, (p) => p.latencyMs),
          connections: alignNodes(live, (p) => p.connections),
        };
  }, [nodes]);
  if (charts === null) {
    return (
      <section aria-labelledby="charts-title">
        <h2 id="charts-title">Performance</h2>
        <p class="muted">No figures yet: they come with the next checks.</p>
      </section>
    );
  }
  return (
    <section aria-labelledby="charts-title">
      <h2 id="charts-title">Performance, last 15 minutes</h2>
      <div class="charts" data-testid="charts">
        <Chart title="Client statements per second, per node" unit="/s" data={charts.statements} />
        <Chart title="Reads and writes per second, whole service" unit="/s" data={charts.mix} />
        <Chart title="Commits per second, per node" unit="/s" data={charts.commits} />
        <Chart title="Mean statement latency, per node" unit=" ms" data={charts.latency} />
        <Chart title="Connections, per node" unit="" data={charts.connections} />
      </div>
    </section>
  );
}
