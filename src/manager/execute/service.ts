import { agentOf, type HandlerTable } from './context.js';

/** Steps that begin, abandon and end operations, and the service user's password. */
export const serviceHandlers: HandlerTable<'abort' | 'finish' | 'begin_failover' | 'begin_replacement' | 'begin_set_password' | 'apply_password'> = {
  abort: async (ctx, step) => () => {
    // The reason is kept with the operation, so a failing undo step does not hide it.
    ctx.store.updateOperation({ phase: 'aborting', attempts: 0, abortError: step.error });
    ctx.store.updateService({ error: step.error });
  },

  finish: async (ctx, step, decision) => () => {
    const op = ctx.store.operation();
    const aborted = op !== null && (op.phase === 'aborting' || op.phase === 'aborted');
    if (op) ctx.store.endOperation(aborted ? 'failed' : 'done', step.error ?? undefined);
    const patch = decision.service ?? {};
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
    ctx.store.updateService({
      state: step.state,
      error: step.error,
      ...(patch.desiredReplicas !== undefined ? { desiredReplicas: patch.desiredReplicas } : {}),
      ...(patch.failoverBlockedUntil !== undefined ? { failoverBlockedUntil: iso(patch.failoverBlockedUntil) } : {}),
      ...(patch.outageSince !== undefined ? { outageSince: iso(patch.outageSince) } : {}),
    });
  },

  begin_failover: async (ctx, step) => () => {
    ctx.store.beginOperation('failover', { oldMasterId: step.oldMasterId, automatic: true });
    ctx.store.updateService({ state: 'ADAPTING', error: null });
  },

  begin_replacement: async (ctx) => () => {
    ctx.store.beginOperation('add_nodes', { replacement: true });
    ctx.store.updateService({ state: 'ADAPTING', error: null });
  },

  begin_set_password: async (ctx) => () => {
    ctx.store.beginOperation('set_password', { user: ctx.store.service()!.user });
    ctx.store.updateService({ state: 'ADAPTING', error: null });
  },

  apply_password: async (ctx, step) => {
    const s = ctx.store.service()!;
    const password = s.pendingPassword;
    if (password === null) return;
    await agentOf(ctx, step.masterId).call('set_password', { user: s.user, password });
    return () => {
      // Only the password that was set is made current: a newer one recorded meanwhile stays pending.
      const now = ctx.store.service()!;
      ctx.store.updateService({ password, pendingPassword: now.pendingPassword === password ? null : now.pendingPassword });
      ctx.store.addEvent(`password of ${s.user} changed`);
    };
  },
};
