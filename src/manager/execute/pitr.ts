import { AppError } from '../../util/errors.js';
import { agentOf, ensureAccounts, nodeOf, type HandlerTable } from './context.js';
import { compactUtc } from '../../util/utc.js';

/** How long shutdown waits for the archive to take the master's last events (ms). */
export const FINAL_ARCHIVE_MS = 15_000;

/** Steps of point-in-time recovery (issue #16): a master built from the backup store, and shutdown's last archiving. */
export const pitrHandlers: HandlerTable<'restore_from_backup' | 'archive_final'> = {
  restore_from_backup: async (ctx, step) => {
    if (!ctx.pitr) throw new AppError('WRONG_STATE', 'this manager keeps no backups: a restore needs its backup store');
    const n = nodeOf(ctx, step.id);
    const s = ctx.store.service()!;
    const agent = agentOf(ctx, step.id);
    const r = await ctx.pitr.restoreNode(agent, step.plan, n.serverId, (what) => ctx.store.addEvent(`restore: ${what}`));
    await agent.call('configure_master', { replUser: s.replUser, replPassword: s.replPassword });
    await ensureAccounts(ctx, n.id, true);
    const label = `restore-${compactUtc(new Date())}`;
    const aside = await ctx.pitr.setAsideAfter(step.plan, r.cutAt, label);
    return () => {
      ctx.store.updateNode(n.id, { status: 'ready' });
      ctx.store.addEvent(
        `restore: ${n.id} is the master, at GTID ${r.gtid || '(none)'}${step.plan.until ? ` (every transaction written by ${step.plan.until})` : ' (the end of the archive)'}` +
          (aside.files + aside.backups > 0 ? `; a new history begins: ${aside.files} archived file(s) and ${aside.backups} backup(s) of the old one set aside under ${label}` : ''),
      );
    };
  },

  archive_final: async (ctx, step) => {
    if (!ctx.pitr) return;
    // The master takes no more writes: what the archive then holds is everything acknowledged.
    // A master that does not answer is shut down anyway: the archive then ends where it caught up last.
    const quiet = await agentOf(ctx, step.masterId)
      .call('set_read_only', { readOnly: true })
      .then(() => true)
      .catch(() => false);
    const ok = await ctx.pitr.finish(quiet ? FINAL_ARCHIVE_MS : 0);
    if (ok === null) return;
    return () =>
      ctx.store.addEvent(
        ok
          ? `shutdown: the archive holds every transaction ${step.masterId} wrote`
          : `shutdown: the archive could not take ${step.masterId}'s last transactions${quiet ? ` within ${FINAL_ARCHIVE_MS / 1000} s` : ' (it does not answer)'}: a restore to the end stops at the archive's last catch-up`,
      );
  },
};
