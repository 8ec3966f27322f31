import autocannon from 'autocannon';
import type { Ctx } from '../lib/context.js';
import { masterOf, type BenchManager } from '../lib/manager.js';
import { startFloorServer, type FloorKind } from '../lib/floor-server.js';
import { openLoop } from '../lib/open-loop.js';
import { cpuSeconds, privateMiB, rssMiB, sleep } from '../lib/proc.js';

export const ITEM = '5 control plane';

const METHODS = ['get_service_info', 'list_nodes'] as const;

/** Samples the RSS of some processes every 100 ms; keeps the peak of each. */
class RssSampler {
  readonly peak = new Map<number, number>();
  /** Peak private (anonymous) memory per pid, MiB. */
  readonly peakPrivate = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly pids: number[]) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.sample();
  }

  private sample(): void {
    for (const pid of this.pids) {
      const v = rssMiB(pid);
      if (v !== null) this.peak.set(pid, Math.max(this.peak.get(pid) ?? 0, v));
      const p = privateMiB(pid);
      if (p !== null) this.peakPrivate.set(pid, Math.max(this.peakPrivate.get(pid) ?? 0, p));
    }
  }
}

/** Sequential scrapes of `GET /metrics`, as one Prometheus would make them. */
const SCRAPES = 100;

/**
 * What a Prometheus scrape costs the manager: SCRAPES sequential `GET /metrics` (the answer's
 * size, its latency, the manager's CPU per scrape), beside the same number of `get_password`
 * calls, the cheapest read of the API (the floor: HTTP, authentication, one stored value in an
 * envelope; `list_nodes` lists the cloud and waits for the loop). The password is not printed.
 */
async function scrapeCost(ctx: Ctx, mgr: BenchManager, mgrPid: number, round: number): Promise<void> {
  const r = ctx.results;
  const headers = { authorization: `Bearer ${mgr.token}` };
  const measure = async (label: string, url: string): Promise<void> => {
    const times: number[] = [];
    let bytes = 0;
    const cpu0 = cpuSeconds(mgrPid);
    for (let i = 0; i < SCRAPES; i++) {
      const t0 = performance.now();
      const res = await fetch(url, { headers });
      bytes = (await res.arrayBuffer()).byteLength;
      times.push(performance.now() - t0);
      if (!res.ok) throw new Error(`${label}: HTTP ${res.status}`);
    }
    const cpu1 = cpuSeconds(mgrPid);
    times.sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    const p99 = times[Math.min(times.length - 1, Math.ceil(times.length * 0.99) - 1)]!;
    ctx.log(`  ${label}: mean ${mean.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, ${bytes} bytes`);
    r.record(ITEM, `${label}: latency mean (sequential)`, 'ms', round, mean, 2);
    r.record(ITEM, `${label}: latency p99 (sequential)`, 'ms', round, p99, 2);
    r.record(ITEM, `${label}: answer size`, 'bytes', round, bytes, 0);
    r.record(ITEM, `${label}: manager CPU per call`, 'ms', round, cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) * 1000) / SCRAPES : Number.NaN, 2);
  };
  await measure('`GET /metrics` (a Prometheus scrape)', `http://127.0.0.1:${mgr.port}/metrics`);
  await measure('floor: `get_password`', `http://127.0.0.1:${mgr.port}/?method=get_password&params=%7B%7D&id=1`);
}

/** The fixed rate of the issue's goal (#17): p99 ≤ 5 ms at 1,000 req/s. */
const FIXED_RATE = 1000;

/**
 * Latency at a fixed rate, two ways, for each read method: autocannon `-R` (its per-connection
 * budget per second, 8 connections: what the issue names) and a uniform open loop (each request
 * on its schedule, latency from when it was due: no coordinated omission).
 */
async function fixedRate(ctx: Ctx, mgr: BenchManager, round: number): Promise<void> {
  const r = ctx.results;
  const headers = { authorization: `Bearer ${mgr.token}` };
  // get_password is the floor: HTTP, the token check, one stored value (see scrapeCost).
  for (const method of [...METHODS, 'get_password'] as const) {
    const url = `http://127.0.0.1:${mgr.port}/?method=${method}&params=%7B%7D&id=1`;
    const cannon = await autocannon({ url, connections: 8, overallRate: FIXED_RATE, duration: ctx.config.cannonSeconds * 2, headers });
    const a = `\`${method}\`${method === 'get_password' ? ' (floor)' : ''} at ${FIXED_RATE} req/s, autocannon -R (8 connections)`;
    r.record(ITEM, `${a}: latency p50`, 'ms', round, cannon.latency.p50, 0);
    r.record(ITEM, `${a}: latency p99`, 'ms', round, cannon.latency.p99, 0);
    r.record(ITEM, `${a}: errors`, 'requests', round, cannon.errors + cannon.non2xx, 0);
    const open = await openLoop(url, headers, FIXED_RATE, ctx.config.cannonSeconds * 2);
    const o = `\`${method}\`${method === 'get_password' ? ' (floor)' : ''} at ${FIXED_RATE} req/s, uniform open loop`;
    ctx.log(`  ${o}: from sent p50 ${open.sentP50.toFixed(2)} ms p99 ${open.sentP99.toFixed(2)} ms; from due p99 ${open.p99.toFixed(2)} ms; autocannon -R p99 ${cannon.latency.p99} ms`);
    r.record(ITEM, `${o}: latency p50`, 'ms', round, open.sentP50, 2);
    r.record(ITEM, `${o}: latency p99`, 'ms', round, open.sentP99, 2);
    r.record(ITEM, `${o}: latency p99 from when due`, 'ms', round, open.p99, 2);
    r.record(ITEM, `${o}: latency max from when due`, 'ms', round, open.max, 1);
    r.record(ITEM, `${o}: errors`, 'requests', round, open.failed, 0);
    r.record(ITEM, `${o}: the generator's own lateness p99`, 'ms', round, open.lagP99, 2);
  }
}

/** The floors' figure names: peak at 128 connections, and the uniform open loop at FIXED_RATE. */
const floorFigure = (kind: FloorKind, what: 'peak' | 'p99'): string =>
  what === 'peak' ? `bare \`${kind}\` server (floor), 128 clients: throughput` : `bare \`${kind}\` server (floor) at ${FIXED_RATE} req/s, uniform open loop: latency p99`;

/**
 * The host's floors for the figures above, in the same round, beside the service's processes:
 * the same answer bytes as `get_password` from a bare `node:http` server and from fastify with one
 * route, each in a process of its own — peak throughput at 128 connections (autocannon) and p99
 * at the fixed rate (the uniform open loop). What the manager adds is the rest: authentication,
 * the envelope and dispatch, its own loop.
 */
async function serverFloors(ctx: Ctx, mgr: BenchManager, round: number): Promise<void> {
  const r = ctx.results;
  const res = await fetch(`http://127.0.0.1:${mgr.port}/?method=get_password&params=%7B%7D&id=1`, { headers: { authorization: `Bearer ${mgr.token}` } });
  // The same number of bytes as the manager's answer, not the password itself.
  const body = JSON.stringify({ result: 'x'.repeat(Math.max(0, (await res.text()).length - 33)), error: null, id: 1 });
  for (const kind of ['node:http', 'fastify'] as const) {
    const floor = await startFloorServer(kind, body);
    try {
      const peak = await autocannon({ url: floor.url, connections: 128, duration: ctx.config.cannonSeconds });
      const open = await openLoop(floor.url, {}, FIXED_RATE, ctx.config.cannonSeconds * 2);
      ctx.log(`  floor ${kind}: ${peak.requests.average.toFixed(0)} req/s at 128 clients; at ${FIXED_RATE} req/s from sent p99 ${open.sentP99.toFixed(2)} ms`);
      r.record(ITEM, floorFigure(kind, 'peak'), 'req/s', round, peak.requests.average, 0);
      r.record(ITEM, floorFigure(kind, 'p99'), 'ms', round, open.sentP99, 2);
    } finally {
      await floor.stop();
    }
  }
  const fig = (name: string, unit: string, digits?: number): ReturnType<typeof r.figure> => r.figure(ITEM, name, unit, digits);
  r.ratio(ITEM, '`get_service_info` at 128 clients / a bare `fastify` server: throughput', fig('`get_service_info`, 128 clients: throughput', 'req/s', 0), fig(floorFigure('fastify', 'peak'), 'req/s', 0));
  r.ratio(ITEM, '`get_service_info` at 1,000 req/s / a bare `node:http` server: open-loop p99', fig(`\`get_service_info\` at ${FIXED_RATE} req/s, uniform open loop: latency p99`, 'ms', 2), fig(floorFigure('node:http', 'p99'), 'ms', 2));
}

/**
 * One round of item 5: autocannon against the manager's read methods at each concurrency, with
 * the manager's and the master agent's memory and CPU watched meanwhile. autocannon runs in
 * this process, on the same two cores as the manager.
 */
export async function controlPlaneRound(ctx: Ctx, mgr: BenchManager, round: number): Promise<void> {
  const r = ctx.results;
  r.grid(ITEM);
  const info = await mgr.info();
  const master = masterOf(info);
  const mgrPid = mgr.pid;
  const agentPid = mgr.agentPid(master.id);
  if (mgrPid === null || agentPid === null) throw new Error('cannot find the manager or agent pid');
  await sleep(2000);
  r.record(ITEM, 'manager RSS, idle', 'MiB', round, rssMiB(mgrPid) ?? Number.NaN, 0);
  r.record(ITEM, 'manager private memory (anonymous pages; RSS less the shared `node` binary), idle', 'MiB', round, privateMiB(mgrPid) ?? Number.NaN, 0);
  r.record(ITEM, 'master agent RSS, idle', 'MiB', round, rssMiB(agentPid) ?? Number.NaN, 0);
  const sampler = new RssSampler([mgrPid, agentPid]);
  sampler.start();
  try {
    for (const method of METHODS) {
      for (const connections of ctx.config.connections) {
        const url = `http://127.0.0.1:${mgr.port}/?method=${method}&params=%7B%7D&id=1`;
        const cpu0 = [cpuSeconds(mgrPid), cpuSeconds(agentPid)];
        const res = await autocannon({ url, connections, duration: ctx.config.cannonSeconds, headers: { authorization: `Bearer ${mgr.token}` } });
        const cpu1 = [cpuSeconds(mgrPid), cpuSeconds(agentPid)];
        const label = `\`${method}\`, ${connections} client${connections > 1 ? 's' : ''}`;
        const bad = res.errors + res.non2xx;
        ctx.log(`  ${label}: ${res.requests.average.toFixed(0)} req/s, p50 ${res.latency.p50} ms, p99 ${res.latency.p99} ms${bad ? `, ${bad} errors` : ''}`);
        r.record(ITEM, `${label}: throughput`, 'req/s', round, res.requests.average, 0);
        r.record(ITEM, `${label}: latency mean`, 'ms', round, res.latency.average, 2);
        r.record(ITEM, `${label}: latency p50`, 'ms', round, res.latency.p50, 0);
        r.record(ITEM, `${label}: latency p99`, 'ms', round, res.latency.p99, 0);
        const cpu = (i: number): number => {
          const a = cpu0[i];
          const b = cpu1[i];
          return a !== null && a !== undefined && b !== null && b !== undefined ? ((b - a) / res.duration) * 100 : Number.NaN;
        };
        r.record(ITEM, `${label}: manager CPU`, '% of a core', round, cpu(0), 0);
        r.record(ITEM, `${label}: master agent CPU`, '% of a core', round, cpu(1), 0);
        if (bad > 0) r.note(`Control plane, round ${round + 1}, ${label}: ${res.errors} connection errors, ${res.non2xx} non-2xx answers.`);
      }
    }
    await fixedRate(ctx, mgr, round);
    await scrapeCost(ctx, mgr, mgrPid, round);
    await serverFloors(ctx, mgr, round);
  } finally {
    sampler.stop();
  }
  r.record(ITEM, 'manager RSS, peak under the load above', 'MiB', round, sampler.peak.get(mgrPid) ?? Number.NaN, 0);
  r.record(ITEM, 'manager private memory, peak under the load above', 'MiB', round, sampler.peakPrivate.get(mgrPid) ?? Number.NaN, 0);
  r.record(ITEM, 'master agent RSS, peak under the load above', 'MiB', round, sampler.peak.get(agentPid) ?? Number.NaN, 0);
}
