import { agentOf, ensureAccounts, nodeOf, sourceOf, type HandlerTable } from './context.js';

/**
 * How long a frozen replica's server gets to shut down on SIGTERM before it is killed (ms): a
 * replica survives SIGKILL (durable commits, crash-safe replication positions), and one that
 * did not answer for seconds is unlikely to shut down cleanly.
 */
export const FROZEN_STOP_GRACE_MS = 2000;

/** Steps that keep every replica healthy, and what a total outage leaves recorded. */
export const repairHandlers: HandlerTable<'repair_replica' | 'replace_replica' | 'mark_healthy' | 'set_wait_no_slave' | 'record_outage' | 'clear_outage'> = {
  repair_replica: async (ctx, step) => {
    const n = nodeOf(ctx, step.id);
    const agent = agentOf(ctx, step.id);
    if (step.how === 'restart_server' || step.how === 'stop_and_restart_server') {
      // A frozen server is stopped first (the agent kills one that ignores SIGTERM).
      if (step.how === 'stop_and_restart_server') await agent.call('stop', { graceMs: FROZEN_STOP_GRACE_MS });
      // It comes back read-only, and its replication resumes where it stood.
      await agent.call('init_server', { serverId: n.serverId });
    } else {
      // Re-pointed at the master from the position it applied (its relay log is fetched again).
      await agent.call('configure_replica', { master: sourceOf(ctx, step.masterId) });
    }
    await ensureAccounts(ctx, step.id, false);
    return () => ctx.store.updateNode(step.id, { repairs: n.repairs + 1 });
  },

  replace_replica: async (ctx, step) => {
    // Gone from the registry, the service has one replica fewer than it wants: a fresh copy follows.
    ctx.store.updateNode(step.id, { status: 'removing' });
    await ctx.driver.destroyNode(step.id);
    return () => ctx.store.deleteNode(step.id);
  },

  mark_healthy: async (ctx, step) => () => ctx.store.updateNode(step.id, { repairs: 0 }),

  set_wait_no_slave: async (ctx, step) => {
    await agentOf(ctx, step.id).call('set_wait_no_slave', { on: step.on });
  },

  record_outage: async (ctx, step) => () => ctx.store.updateService({ outageSince: new Date(step.at).toISOString() }),

  clear_outage: async (ctx) => () => ctx.store.updateService({ outageSince: null }),
};
