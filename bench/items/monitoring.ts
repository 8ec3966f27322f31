import type { Ctx } from '../lib/context.js';
import { withRoot } from '../lib/mysql.js';
import { sleep } from '../lib/proc.js';
import { sbPrepare, sbRun, type SbTarget } from '../lib/sysbench.js';
import { fmt, max, median, min, pairwise, valid } from '../lib/stats.js';
import type { BigService } from './big-service.js';

export const ITEM = '6 monitoring overhead';

const THREADS = 4;

const F = {
  off: 'sysbench oltp_read_write, no manager (agent alone)',
  on: 'sysbench oltp_read_write, manager polling every 1 s (default)',
  offP95: 'p95 latency, no manager',
  onP95: 'p95 latency, manager polling',
  diff: 'difference, on vs off, within each round',
} as const;

/** The sysbench data set of item 6: small enough to stay in the buffer pool, so the run is CPU-bound. */
export async function prepareMonitoring(ctx: Ctx, big: BigService): Promise<SbTarget> {
  const { config } = ctx;
  await withRoot(big.masterFiles.socket, (c) => c.query('CREATE DATABASE IF NOT EXISTS sbmon'));
  await sbPrepare({ socket: big.masterFiles.socket, db: 'sbmon' }, config.monitorTables, config.monitorTableSize, 2);
  const target: SbTarget = { db: 'sbmon', host: big.endpoint.host, port: big.endpoint.port, user: big.user, password: big.password };
  ctx.log('  sysbench warm-up');
  await sbRun(target, 'oltp_read_write', config.monitorTables, config.monitorTableSize, THREADS, Math.min(5, config.sysbenchSeconds));
  ctx.results.note(
    `Monitoring overhead: sysbench oltp_read_write, ${THREADS} threads, ${config.sysbenchSeconds} s a run, on ${config.monitorTables} tables × ${config.monitorTableSize} rows ` +
      '(in memory) on the master over TCP as the service user; "off" = the manager process stopped (the node\'s agent and mariadbd alone), ' +
      '"on" = the same node under a running manager with its default 1 s monitor interval; the order alternates between rounds.',
  );
  return target;
}

/** One round of item 6: the same sysbench run with the manager stopped and running, in alternating order. */
export async function monitoringRound(ctx: Ctx, big: BigService, target: SbTarget, round: number): Promise<void> {
  const { config } = ctx;
  const r = ctx.results;
  const order: Array<'off' | 'on'> = round % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
  for (const mode of order) {
    if (mode === 'off') {
      await big.mgr.stop();
      await sleep(500);
    } else {
      if (!big.mgr.running) await big.mgr.launch();
      await sleep(2500); // a monitoring round or two before measuring
    }
    ctx.log(`  sysbench ${config.sysbenchSeconds} s, monitor ${mode}`);
    const s = await sbRun(target, 'oltp_read_write', config.monitorTables, config.monitorTableSize, THREADS, config.sysbenchSeconds);
    r.record(ITEM, mode === 'off' ? F.off : F.on, 'transactions/s', round, s.tps);
    r.record(ITEM, mode === 'off' ? F.offP95 : F.onP95, 'ms', round, s.p95);
  }
  if (!big.mgr.running) await big.mgr.launch();
  const off = r.figure(ITEM, F.off, 'transactions/s');
  const on = r.figure(ITEM, F.on, 'transactions/s');
  const d = pairwise(on.values, off.values)[round];
  if (d !== undefined) r.record(ITEM, F.diff, '%', round, (d - 1) * 100, 1);
}

/** After the last round: the noise band, the spread of each mode's runs relative to its median. */
export function monitoringNoise(ctx: Ctx): void {
  const band = (name: string): string => {
    const v = valid(ctx.results.figure(ITEM, name, 'transactions/s').values);
    return v.length > 1 ? `±${fmt(((max(v) - min(v)) / median(v)) * 50, 1)}%` : 'unknown (1 run)';
  };
  ctx.results.note(`Monitoring overhead, noise band (half the min–max spread of the runs, relative to their median): without the manager ${band(F.off)}, with it ${band(F.on)}. A difference inside the band is no difference.`);
}
