import autocannon from 'autocannon';
import type { Ctx } from '../lib/context.js';
import { masterOf, type BenchManager } from '../lib/manager.js';
import { cpuSeconds, rssMiB, sleep } from '../lib/proc.js';

export const ITEM = '5 control plane';

const METHODS = ['get_service_info', 'list_nodes'] as const;

/** Samples the RSS of some processes every 100 ms; keeps the peak of each. */
class RssSampler {
  readonly peak = new Map<number, number>();
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
    }
  }
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
  } finally {
    sampler.stop();
  }
  r.record(ITEM, 'manager RSS, peak under the load above', 'MiB', round, sampler.peak.get(mgrPid) ?? Number.NaN, 0);
  r.record(ITEM, 'master agent RSS, peak under the load above', 'MiB', round, sampler.peak.get(agentPid) ?? Number.NaN, 0);
}
