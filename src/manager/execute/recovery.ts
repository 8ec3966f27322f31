import { AppError } from '../../util/errors.js';
import { sleep } from '../../util/proc.js';
import { agentOf, ensureAccounts, nodeOf, promoteNode, settleEach, sourceOf, type HandlerTable } from './context.js';

/** Steps of a failover, and of bringing a lost or former master back. */
export const recoveryHandlers: HandlerTable<'fence_replicas' | 'drain' | 'promote_failover' | 'choose_candidate' | 'reject_candidate' | 'restart_master' | 'restore_master' | 'unfence_master' | 'restart_mysqld' | 'rejoin' | 'mark_ready'> = {
  fence_replicas: async (ctx, step) => {
    // Each replica that answers in time stops receiving; one that does not is left out of the
    // candidates by the next look (it does not answer), it does not hold the failover up.
    // At the same time, where the old master's agent still answers, it fences its server:
    // read-only, or killed when the server does not answer (frozen); it never takes a write again.
    // (Everything that may throw at once is done before any call starts: no call is left unawaited.)
    const old = step.oldMasterId === null ? null : nodeOf(ctx, step.oldMasterId);
    // The old master's fence is waited on at most fenceMs: once the replicas stopped receiving, it
    // can acknowledge no commit (semi-sync, wait_no_slave=ON), and a host that is powered off or cut
    // off never answers; its call goes on in the background (settled, never unhandled).
    const replicaCalls = step.ids.map(async (id) => agentOf(ctx, id).call('stop_replica_io', {}, { timeoutMs: ctx.timeouts.fenceMs }));
    const oldCall = old ? ctx.agents.for(old).call('fence', { deadlineMs: ctx.timeouts.fenceMs }, { timeoutMs: ctx.timeouts.fenceMs + 2000 }).catch(() => undefined) : Promise.resolve();
    // An old master whose agent did not answer the last look is not waited on at all.
    const oldWait = step.oldMasterAnswers ? Promise.race([oldCall, sleep(ctx.timeouts.fenceMs)]) : Promise.resolve();
    await Promise.all([Promise.allSettled(replicaCalls), oldWait]);
    if (old) return () => ctx.store.updateNode(old.id, { status: 'failed' });
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
      ctx.store.updateNode(step.candidateId, { role: 'master', repairs: 0 });
      if (step.oldMasterId !== null) ctx.store.updateNode(step.oldMasterId, { role: 'replica', status: 'failed' });
      if (op?.kind === 'failover') ctx.store.updateOperation({ params: { ...op.params, candidateId: step.candidateId, gtid: step.gtid } });
    };
  },

  choose_candidate: async (ctx, step) => () => {
    const op = ctx.store.operation();
    if (op?.kind === 'failover') ctx.store.updateOperation({ params: { ...op.params, candidateId: step.candidateId, ...(step.lost ? { lost: step.lost } : {}) } });
  },

  reject_candidate: async (ctx, step) => () => {
    const op = ctx.store.operation();
    if (op?.kind !== 'failover') return;
    const { candidateId: _given, ...params } = op.params;
    // Back to choosing, without it.
    ctx.store.updateOperation({ params: { ...params, excluded: [...(params.excluded ?? []), step.id] }, phase: 'fenced', attempts: 0 });
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

  unfence_master: async (ctx, step) => {
    // The master is writable again; its agent's fence mark is cleared with it.
    await promoteNode(ctx, step.id);
  },

  restore_master: async (ctx, step) => {
    // The master from before the failure, back with every transaction: writable again, its
    // replicas (still pointed at it) resume on their own.
    await promoteNode(ctx, step.id);
    return () => ctx.store.updateNode(step.id, { role: 'master', status: 'ready', repairs: 0 });
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
