import type { Command } from 'commander';
import { sleep } from '../../util/proc.js';
import { table } from './format.js';
import { action, err, example, out, readVerb } from './verb-kit.js';

/** How often `backup` reports its progress while it waits (ms). */
const PROGRESS_MS = 1000;

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `--interval`: `off`, or a number of seconds with an optional unit (`90`, `30m`, `6h`, `1d`). Throws naming the option. */
export function parseInterval(v: string): number {
  if (v === 'off' || v === '0') return 0;
  const m = /^(\d+)([smhd]?)$/.exec(v.trim());
  if (!m) throw new Error(`--interval: '${v}' is not a duration (90, 30m, 6h, 1d, or off)`);
  return Number(m[1]) * UNITS[m[2] || 's']!;
}

/** The verbs of backups (docs/backups.md): take one, list them, delete one. */
export function registerBackupVerbs(program: Command): void {
  example(
    program
      .command('backup')
      .description('take a full physical backup from a caught-up replica (the master only when alone), compressed into the backup store; waits for it and shows its progress unless --no-wait')
      .option('--incremental', 'only the pages changed since the newest backup (from the node that one came from)')
      .option('--no-wait', 'return once the backup began')
      .action(
        action(async (c, _g, opts: { wait: boolean; incremental?: boolean }) => {
          const { id, source } = await c.call('backup', opts.incremental ? { incremental: true } : {});
          out(`backup ${id}: copying ${source}`);
          if (!opts.wait) return;
          const began = Date.now();
          for (;;) {
            await sleep(PROGRESS_MS);
            const l = await c.call('list_backups', {});
            if (l.running?.id === id) {
              const seconds = (Date.now() - began) / 1000;
              err(`  ${mib(l.running.bytes)} copied, ${mib(l.running.bytes / Math.max(seconds, 0.001))}/s`);
              continue;
            }
            const done = l.backups.find((b) => b.id === id);
            if (done) {
              out(`backup ${id} taken from ${done.sourceNode}: ${mib(done.bytes)} stored (zstd), GTID ${done.gtid || '(none)'}`);
              return;
            }
            const why = l.last?.id === id ? l.last.error : 'it is no longer listed';
            throw new Error(`backup ${id} failed, nothing kept: ${why}`);
          }
        }),
      ),
    'cps-mysql backup\n  cps-mysql backup --incremental',
  );

  example(
    readVerb(
      program
        .command('backups')
        .description('the complete backups, oldest first, and the one under way')
        .action(
          action(async (c, g) => {
            const l = await c.call('list_backups', {});
            if (g.json) return out(JSON.stringify(l));
            out(l.backups.length === 0 ? '(no backup yet: cps-mysql backup)' : table(['ID', 'KIND', 'FROM', 'ENDED', 'SIZE', 'GTID'], l.backups.map((b) => [b.id, b.kind, b.sourceNode, b.endedAt, mib(b.bytes), b.gtid || '-'])));
            out(`policy: ${l.policy.intervalSeconds === null ? 'no schedule' : `a full backup every ${l.policy.intervalSeconds} s`}, ${l.policy.keep} kept`);
            if (l.running) out(`under way: ${l.running.id} from ${l.running.source}, ${mib(l.running.bytes)} copied`);
            if (l.last && !l.last.ok) out(`last failed: ${l.last.id}: ${l.last.error}`);
          }),
        ),
    ),
    'cps-mysql backups',
  );

  example(
    program
      .command('delete-backup')
      .description('delete a complete backup')
      .argument('<id>', 'its id, as `cps-mysql backups` lists it')
      .action(
        action(async (c, _g, id: string) => {
          await c.call('delete_backup', { id });
          out(`backup ${id} deleted`);
        }),
      ),
    'cps-mysql delete-backup full-20261129T120000Z',
  );

  example(
    program
      .command('backup-policy')
      .description('schedule full backups and set how many are kept (with the archived binary logs they need); older ones are deleted after each new backup')
      .option('--interval <duration>', 'time between backups: seconds, or 30m, 6h, 1d; off to stop the schedule', parseInterval)
      .option('--keep <n>', 'full backups kept', (v) => Number.parseInt(v, 10))
      .action(
        action(async (c, _g, opts: { interval?: number; keep?: number }) => {
          if (opts.interval === undefined && opts.keep === undefined) throw new Error('give --interval, --keep or both');
          const p = await c.call('set_backup_policy', { ...(opts.interval !== undefined ? { interval: opts.interval } : {}), ...(opts.keep !== undefined ? { keep: opts.keep } : {}) });
          out(`backup policy: ${p.intervalSeconds === null ? 'no schedule' : `a full backup every ${p.intervalSeconds} s`}, ${p.keep} kept`);
        }),
      ),
    'cps-mysql backup-policy --interval 6h --keep 14',
  );
}
