import { AppError } from '../../util/errors.js';
import { agentOf, ensureAccounts, nodeOf, promoteNode, settleEach, sourceOf, type HandlerTable } from './context.js';

/** Steps of a failover, and of bringing a lost or former master back. */
export const recoveryHandlers: HandlerTable<'fence_replicas' | 'drain' | 'promote_failover' | 'restart_master' | 'restart_mysqld' | 'rejoin' | 'mark_ready'> = {
  fence_replicas: async (ctx, step) => {
    const old = nodeOf(ctx, step.oldMasterId);
    await settleEach(step.ids, async (id) => agentOf(ctx, id).call('stop_replica_io', {}));
    // Where the old master's agent still answers, it stops taking writes too.
    await ctx.agents
      .for(old)
      .call('set_read_only', { readOnly: true }, { timeoutMs: ctx.timeouts.fenceMs })
      .catch(() => undefined);
    return () => ctx.store.updateNode(old.id, { status: 'failed' });
  },

  drain: async (ctx, step) => {
    const seconds = ctx.timeouts.drainSeconds;
    await settleEach(step.ids, async (id) => {
      const agent = agentOf(ctx, id);
      const st = await agent.call('get_status', {});
      const received = st.replication?.gtidIoPos ?? '';
      const r = await agent.call('wait_for_gtid', { gtid: received, timeoutSeconds: seconds });
      if (!r.reached) throw new AppError('TIMEOUT', `${id} did not apply its relay log (${received}) within ${seconds} s`);
    });
  },

  promote_failover: async (ctx, step) => {
    await promoteNode(ctx, step.candidateId);
    return () => {
      const op = ctx.store.operation();
      ctx.store.updateNode(step.candidateId, { role: 'master' });
      ctx.store.updateNode(step.oldMasterId, { role: 'replica', status: 'failed' });
      if (op?.kind === 'failover') ctx.store.updateOperation({ params: { ...op.params, candidateId: step.candidateId, gtid: step.gtid } });
    };
  },

  restart_master: async (ctx, step) => {
    let n = nodeOf(ctx, step.id);
    if (step.recreate) {
      const c = await ctx.driver.createNode(n.id, ctx.credentialsFor ? await ctx.credentialsFor(n.id) : undefined);
      ctx.store.updateNode(n.id, { host: c.host, agentPort: c.agentPort, mysqlPort: c.mysqlPort, healthPort: c.healthPort });
      n = nodeOf(ctx, step.id);
    }
    const s = ctx.store.service()!;
    const agent = ctx.agents.for(n);
    await agent.call('init_server', { serverId: n.serverId });
    await agent.call('configure_master', { replUser: s.replUser, replPassword: s.replPassword });
    await ensureAccounts(ctx, n.id, true);
  },

  restart_mysqld: async (ctx, step) => {
    const n = nodeOf(ctx, step.id);
    await ctx.agents.for(n).call('init_server', { serverId: n.serverId });
    await ensureAccounts(ctx, n.id, false);
  },

  rejoin: async (ctx, step) => {
    const agent = agentOf(ctx, step.id);
    await agent.call('set_read_only', { readOnly: true });
    await agent.call('configure_replica', { master: sourceOf(ctx, step.masterId) });
    await ensureAccounts(ctx, step.id, false);
    return () => ctx.store.updateNode(step.id, { role: 'replica', status: 'rejoining' });
  },

  mark_ready: async (ctx, step) => () => ctx.store.updateNode(step.id, { status: 'ready' }),
};
