import { AppError } from '../../util/errors.js';
import { agentOf, ensureAccounts, promoteNode, settleEach, sourceOf, type HandlerTable } from './context.js';

/** Steps that change who replicates from whom: switchover, attach, re-pointing. */
export const replicationHandlers: HandlerTable<'fence' | 'catch_up' | 'promote' | 'repoint' | 'unfence' | 'attach'> = {
  fence: async (ctx, step) => {
    await agentOf(ctx, step.masterId).call('set_read_only', { readOnly: true });
  },

  catch_up: async (ctx, step) => {
    const master = await agentOf(ctx, step.masterId).call('get_status', {});
    const gtid = master.gtid?.binlogPos ?? '';
    const seconds = ctx.timeouts.switchoverTimeoutSeconds;
    const r = await agentOf(ctx, step.candidateId).call('wait_for_gtid', { gtid, timeoutSeconds: seconds });
    if (!r.reached) throw new AppError('TIMEOUT', `${step.candidateId} did not apply ${gtid} within ${seconds} s`);
  },

  promote: async (ctx, step) => {
    await promoteNode(ctx, step.candidateId);
    return () => {
      ctx.store.updateNode(step.candidateId, { role: 'master' });
      ctx.store.updateNode(step.oldMasterId, { role: 'replica' });
    };
  },

  repoint: async (ctx, step) => {
    const master = sourceOf(ctx, step.masterId);
    await settleEach(step.ids, async (id) => agentOf(ctx, id).call('configure_replica', { master }));
  },

  unfence: async (ctx, step) => {
    await agentOf(ctx, step.masterId).call('set_read_only', { readOnly: false });
  },

  attach: async (ctx, step) => {
    const master = sourceOf(ctx, step.masterId);
    await agentOf(ctx, step.id).call('configure_replica', { master });
    await ensureAccounts(ctx, step.id, false);
    return () => ctx.store.updateNode(step.id, { role: 'replica' });
  },
};
