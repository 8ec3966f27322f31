import { readdirSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Ctx } from '../lib/context.js';
import { MiB } from '../lib/files.js';
import { BenchManager } from '../lib/manager.js';
import { rows, withRoot } from '../lib/mysql.js';
import { WriteProbe } from '../lib/probe.js';
import { now, runCmd, runShell, sleep } from '../lib/proc.js';
import type { BigService } from './big-service.js';
import { floorCopy, floorTcp } from './provision.js';

export const ITEM = '9 backup and point-in-time restore';

const F = {
  cp: '(c) floor: `cp -a` of the stopped data directory',
  cpSync: '(c) floor, with `sync`',
  tcp: '(d) floor: the same bytes through loopback TCP (`tar | socat | tar`)',
  tcpSync: '(d) with `sync`',
  backup: '(a) `backup` (full, from the master alone) → listed in the store',
  stored: '(a) stored (zstd -3)',
  gap: '(a) longest gap between acknowledged writes on the master during the backup',
  baseline: 'baseline: longest gap between acknowledged writes, 1 s with nothing else running',
  restore: '(b) `startup --restore --time T` (backup + binary logs to T, 0 replicas) → RUNNING',
  restoreFloor: '(e) floor: `zstd -dc | mbstream -x` of the stored backup',
  rpo: '(f) archive RPO: longest time the master\'s binary log position was ahead of the archive, under 100 writes/s',
} as const;

/**
 * One round of item 9 on the provisioning service (its master alone, the ~1 GiB data set): the
 * floors (c, d), a full backup while a client writes (a), a restore of it to a second after it
 * by a second manager on a copy of the store (b) against its floor (e), and the archive's RPO (f).
 */
export async function backupRound(ctx: Ctx, big: BigService, round: number): Promise<void> {
  const r = ctx.results;
  if (round === 0) {
    r.note(
      'Item 9: the backup is taken from the master because the provisioning service has no replica (the worst case for the write gap: with a caught-up replica the backup is taken there and the master is not touched). ' +
        'The restore target is a second after the backup ended, with writes archived in between; it runs on a copy of the store (a restore to an earlier time sets later material aside). ' +
        'RPO (f): every 20 ms the master\'s `SHOW MASTER STATUS` position is compared with the archived copy of that file; the figure is the longest a position stayed ahead.',
    );
  }
  await floorCopy(ctx, big, round, ITEM, { plain: F.cp, sync: F.cpSync });
  await floorTcp(ctx, big, round, ITEM, { plain: F.tcp, sync: F.tcpSync });
  const { mgr } = big;
  const probe = new WriteProbe(async () => big.endpoint, big.user, big.password);
  await probe.start();
  let t0 = 0;
  let t1 = 0;
  let id = '';
  try {
    await sleep(1000);
    ctx.log('  (a) backup');
    t0 = now();
    id = (await mgr.client.call('backup', {})).id;
    for (;;) {
      const l = await mgr.client.call('list_backups', {});
      if (l.running === null) {
        if (!l.backups.some((b) => b.id === id)) throw new Error(`backup ${id} failed: ${l.last?.error ?? '?'}`);
        r.record(ITEM, F.stored, 'MiB', round, l.backups.find((b) => b.id === id)!.bytes / MiB, 0);
        break;
      }
      await sleep(50);
    }
    t1 = now();
    await sleep(200);
    r.record(ITEM, F.gap, 'ms', round, probe.maxGap(t0, t1), 0);
    r.record(ITEM, F.baseline, 'ms', round, probe.maxGap(t0 - 950, t0 - 50), 0);
    r.record(ITEM, F.backup, 's', round, (t1 - t0) / 1000);
    // Writes archived after it; the archive's RPO under that load.
    await sleep(1500);
    r.record(ITEM, F.rpo, 'ms', round, await measureRpo(big), 0);
  } finally {
    await probe.stop();
  }
  const target = Math.floor(Date.now() / 1000) - 1;
  await sleep(1500);
  const copy = join(ctx.root, `store-${round}`);
  await runCmd('cp', ['-a', join(mgr.dataDir, 'backups'), copy]);
  // (e) the floor of a restore: the stored bytes decompressed and extracted.
  const x = join(ctx.root, `restore-floor-${round}`);
  await mkdir(x, { recursive: true });
  await runCmd('sync', []);
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const floor = await runShell(`zstd -dc ${q(join(copy, id, 'data'))} | mbstream -x -C ${q(x)}`);
  r.record(ITEM, F.restoreFloor, 's', round, floor.ms / 1000);
  await rm(x, { recursive: true, force: true });
  // (b) the restore by a second manager.
  const restorer = await BenchManager.create(ctx, `restorer-${round}`, undefined, ['--backup-dir', copy]);
  try {
    ctx.log(`  (b) restore to ${new Date(target * 1000).toISOString()}`);
    const s0 = now();
    await restorer.client.call('startup', { slaves: 0, restore: { time: new Date(target * 1000).toISOString().replace('.000Z', 'Z') } });
    await restorer.waitIdle('RUNNING');
    r.record(ITEM, F.restore, 's', round, (now() - s0) / 1000);
  } finally {
    await restorer.destroy();
    await rm(copy, { recursive: true, force: true });
  }
  const fig = (name: string): ReturnType<typeof r.figure> => r.figure(ITEM, name, 's');
  r.ratio(ITEM, '(a) / (d): backup vs the socket floor', fig(F.backup), fig(F.tcp));
  r.ratio(ITEM, '(a) / (c): backup vs `cp -a`', fig(F.backup), fig(F.cp));
  r.ratio(ITEM, '(b) / (e): restore vs its floor', fig(F.restore), fig(F.restoreFloor));
  await mgr.client.call('delete_backup', { id });
}

/** The longest time (ms) the master's position stayed ahead of its archived copy, sampled every 20 ms for 5 s. */
async function measureRpo(big: BigService): Promise<number> {
  const archive = join(big.mgr.dataDir, 'backups', '_binlogs');
  const sizeOf = (file: string): number => {
    const segs = readdirSync(archive).filter((s) => s.startsWith('s')).sort();
    const seg = segs.at(-1);
    if (!seg) return 0;
    try {
      return statSync(join(archive, seg, file)).size;
    } catch {
      return 0;
    }
  };
  const pending: Array<{ file: string; pos: number; at: number }> = [];
  let worst = 0;
  const end = now() + 5000;
  await withRoot(big.masterFiles.socket, async (c) => {
    while (now() < end) {
      const st = (await rows(c, 'SHOW MASTER STATUS'))[0];
      const t = now();
      if (st) pending.push({ file: String(st['File']), pos: Number(st['Position']), at: t });
      for (let i = pending.length - 1; i >= 0; i--) {
        const p = pending[i]!;
        if (sizeOf(p.file) >= p.pos) {
          worst = Math.max(worst, t - p.at);
          pending.splice(i, 1);
        }
      }
      await sleep(20);
    }
  });
  for (const p of pending) worst = Math.max(worst, end - p.at);
  return worst;
}
