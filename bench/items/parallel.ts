import type { Ctx } from '../lib/context.js';
import { now, runCmd } from '../lib/proc.js';
import { waitCaughtUp } from '../lib/replication.js';
import type { BigService } from './big-service.js';

export const ITEM = '2 parallel provisioning';

const name = (n: number): string => `\`add_nodes ${n}\` → all ${n} attached and caught up`;

/** One round of item 2: add n replicas at once from the same master, for each n; then remove them. */
export async function parallelRound(ctx: Ctx, big: BigService, round: number): Promise<void> {
  const { mgr } = big;
  const r = ctx.results;
  if (round === 0) r.note('Parallel provisioning runs on the same master with no client writing (unlike item 1 (a)); each batch is removed (`remove_nodes`) before the next.');
  for (const n of ctx.config.parallel) {
    const before = new Set((await mgr.info()).nodes.map((x) => x.id));
    await runCmd('sync', []);
    ctx.log(`  add_nodes ${n}`);
    const t0 = now();
    await mgr.client.call('add_nodes', { slaves: n });
    const { info } = await mgr.waitIdle('RUNNING');
    const added = info.nodes.filter((x) => !before.has(x.id));
    if (added.length !== n) throw new Error(`add_nodes ${n} gave ${added.length} new nodes`);
    await Promise.all(added.map((x) => waitCaughtUp(big.masterFiles.socket, mgr.nodeFiles(x.id).socket)));
    const t1 = now();
    r.record(ITEM, name(n), 's', round, (t1 - t0) / 1000);
    ctx.log(`  add_nodes ${n}: ${((t1 - t0) / 1000).toFixed(2)} s; removing them`);
    await mgr.client.call('remove_nodes', { slaves: n });
    await mgr.waitIdle('RUNNING');
  }
  const one = r.figure(ITEM, name(1), 's');
  for (const n of ctx.config.parallel.filter((x) => x !== 1)) {
    r.ratio(ITEM, `${n} at once / 1 (${n} would be ${n}× done one by one)`, r.figure(ITEM, name(n), 's'), one);
  }
}
