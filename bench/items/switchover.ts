import type { Ctx } from '../lib/context.js';
import type { BenchManager } from '../lib/manager.js';
import { masterOf } from '../lib/manager.js';
import { WriteProbe, type Endpoint } from '../lib/probe.js';
import { now, sleep } from '../lib/proc.js';
import { BenchRouter } from '../lib/router.js';
import { join } from 'node:path';

export const ITEM = '4 switchover';

const F = {
  total: '`set_up_replica_master` → RUNNING, under a write every 10 ms',
  gap: 'longest gap between acknowledged writes (client re-reads the master from `get_service_info` on an error)',
  failed: 'writes refused or failed meanwhile',
  baseline: 'baseline: longest gap between acknowledged writes, 1 s before',
  router: 'through the router: longest gap between acknowledged writes (same switchover, a second client on its write port)',
  routerFailed: 'through the router: writes refused or failed meanwhile',
} as const;

/** Where the service's master is, as a client learns it: from the manager. */
function locator(mgr: BenchManager): () => Promise<Endpoint> {
  return async () => {
    const info = await mgr.client.call('get_service_info', {}, { timeoutMs: 2000 });
    const m = info.master;
    if (!m) throw new Error('no master right now');
    const at = m.lastIndexOf(':');
    return { host: m.slice(0, at), port: Number(m.slice(at + 1)) };
  };
}

/** One round of item 4: a planned switchover to the next replica while a client writes every 10 ms. */
export async function switchoverRound(ctx: Ctx, mgr: BenchManager, round: number): Promise<void> {
  const info = await mgr.info();
  const master = masterOf(info);
  const target = info.nodes.filter((n) => n.role === 'replica' && n.status === 'ready').sort((a, b) => a.id.localeCompare(b.id))[0];
  if (!target) throw new Error('no replica to switch over to');
  const password = await mgr.client.call('get_password', {});
  if (round === 0) await WriteProbe.prepare({ host: master.ip, port: master.port }, info.user, password);
  const probe = new WriteProbe(locator(mgr), info.user, password);
  await probe.start();
  const router = await BenchRouter.start(mgr, join(ctx.root, `router-switchover-${round}`));
  const routed = new WriteProbe(async () => ({ host: '127.0.0.1', port: router.writePort }), info.user, password);
  await routed.start();
  let t0 = 0;
  let t1 = 0;
  let errorsBefore = 0;
  let routedErrorsBefore = 0;
  try {
    await sleep(1000);
    ctx.log(`  switchover ${master.id} → ${target.id}`);
    errorsBefore = probe.errors;
    routedErrorsBefore = routed.errors;
    t0 = now();
    await mgr.client.call('set_up_replica_master', { serviceNodeId: target.id });
    t1 = (await mgr.waitIdle('RUNNING', 120_000)).at;
    const deadline = Date.now() + 10_000;
    while ((probe.firstAckAfter(t1) === null || routed.firstAckAfter(t1) === null) && Date.now() < deadline) await sleep(20);
    await sleep(200);
  } finally {
    await probe.stop();
    await routed.stop();
    await router.stop();
  }
  const routedEnd = routed.firstAckAfter(t1) ?? Number.NaN;
  const end = probe.firstAckAfter(t1) ?? Number.NaN;
  const r = ctx.results;
  r.record(ITEM, F.total, 's', round, (t1 - t0) / 1000);
  r.record(ITEM, F.gap, 'ms', round, Number.isFinite(end) ? probe.maxGap(t0, end) : Number.NaN, 0);
  r.record(ITEM, F.failed, 'writes', round, probe.errors - errorsBefore, 0);
  r.record(ITEM, F.baseline, 'ms', round, probe.maxGap(t0 - 950, t0 - 50), 0);
  r.record(ITEM, F.router, 'ms', round, Number.isFinite(routedEnd) ? routed.maxGap(t0, routedEnd) : Number.NaN, 0);
  r.record(ITEM, F.routerFailed, 'writes', round, routed.errors - routedErrorsBefore, 0);
  const after = masterOf(await mgr.info());
  if (after.id !== target.id) throw new Error(`after the switchover the master is ${after.id}, not ${target.id}`);
}
