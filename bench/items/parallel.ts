import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Ctx } from '../lib/context.js';
import { freePort } from '../lib/net.js';
import { now, runCmd } from '../lib/proc.js';
import { waitCaughtUp } from '../lib/replication.js';
import type { BigService } from './big-service.js';

export const ITEM = '2 parallel provisioning';

const name = (n: number): string => `\`add_nodes ${n}\` → all ${n} attached and caught up`;
const floorName = (n: number): string => `floor: the seed through ${n} loopback socket${n > 1 ? 's' : ''} at once (\`tar | tee | socat | tar\`)`;

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The floor of n copies at once: the stopped data directory read once by `tar`, teed into n
 * loopback sockets (`socat`), each written out by its own `tar -x` — what one snapshot fanned out
 * to n receivers costs with nothing but copying, on the same cores. Seconds.
 */
async function floorFanout(ctx: Ctx, big: BigService, n: number): Promise<number> {
  const dsts = Array.from({ length: n }, (_, i) => join(ctx.root, `floor-fan-${i}`));
  const ports: number[] = [];
  for (const d of dsts) {
    await mkdir(d, { recursive: true });
    ports.push(await freePort());
  }
  const receivers = dsts.map((d, i) => `socat -u TCP-LISTEN:${ports[i]},bind=127.0.0.1,reuseaddr STDOUT | tar -C ${q(d)} -xf - &`).join(' ');
  const send = (p: number): string => `socat -u STDIN TCP:127.0.0.1:${p},retry=200,interval=0.01`;
  const tees = ports.slice(1).map((p) => `>(${send(p)})`).join(' ');
  const script = `${receivers} tar -C ${q(big.seed)} -cf - . | tee ${tees} | ${send(ports[0]!)}; wait`;
  await runCmd('sync', []);
  const t = await runCmd('bash', ['-c', script]);
  await Promise.all(dsts.map((d) => rm(d, { recursive: true, force: true })));
  return t.ms / 1000;
}

/** One round of item 2: add n replicas at once from the same master, for each n; then remove them. */
export async function parallelRound(ctx: Ctx, big: BigService, round: number): Promise<void> {
  const { mgr } = big;
  const r = ctx.results;
  if (round === 0) r.note('Parallel provisioning runs on the same master with no client writing (unlike item 1 (a)); each batch is removed (`remove_nodes`) before the next.');
  for (const n of ctx.config.parallel) {
    ctx.log(`  floor: the seed through ${n} socket(s) at once`);
    r.record(ITEM, floorName(n), 's', round, await floorFanout(ctx, big, n));
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
  const floorOne = r.figure(ITEM, floorName(1), 's');
  for (const n of ctx.config.parallel.filter((x) => x !== 1)) {
    r.ratio(ITEM, `${n} at once / 1 (${n} would be ${n}× done one by one)`, r.figure(ITEM, name(n), 's'), one);
    r.ratio(ITEM, `floor: ${n} sockets at once / 1 (what the same cores allow)`, r.figure(ITEM, floorName(n), 's'), floorOne);
  }
}
