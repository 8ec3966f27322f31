import { randomBytes } from 'node:crypto';
import { AppError } from '../../util/errors.js';
import { agentOf, ensureAccounts, nodeOf, settleEach, sourceOf, type HandlerTable } from './context.js';

/** How long (s) a new service's replica may take to apply its new master's first transactions. */
export const INIT_CATCH_UP_SECONDS = 60;

/** Steps that make, start, provision and remove nodes. */
export const nodeHandlers: HandlerTable<'register_nodes' | 'create_nodes' | 'start_master' | 'provision' | 'init_replicas' | 'destroy_nodes' | 'forget_nodes' | 'destroy_unknown'> = {
  register_nodes: async (ctx, step) => () => {
    for (const n of step.nodes) ctx.store.insertNode({ ...n, status: 'creating', host: null, agentPort: null, mysqlPort: null, healthPort: null });
    const next = Math.max(...step.nodes.map((n) => n.serverId)) + 1;
    if (next > ctx.store.service()!.nextSeq) ctx.store.updateService({ nextSeq: next });
  },

  create_nodes: async (ctx, step) => {
    const init = new Set(step.initServers ?? []);
    await settleEach(step.ids, async (id) => {
      const c = await ctx.driver.createNode(id, ctx.credentialsFor ? await ctx.credentialsFor(id) : undefined);
      ctx.store.updateNode(id, { host: c.host, agentPort: c.agentPort, mysqlPort: c.mysqlPort, healthPort: c.healthPort, status: 'created' });
      // A new service's server is made while the other machines are still starting; start_master
      // and init_replicas call init_server again (it finds the server running) before using it.
      if (init.has(id)) await agentOf(ctx, id).call('init_server', { serverId: nodeOf(ctx, id).serverId });
    });
  },

  start_master: async (ctx, step) => {
    const n = nodeOf(ctx, step.id);
    const s = ctx.store.service()!;
    const agent = ctx.agents.for(n);
    const master = async (): Promise<void> => {
      await agent.call('init_server', { serverId: n.serverId });
      await agent.call('configure_master', { replUser: s.replUser, replPassword: s.replPassword });
      await ensureAccounts(ctx, n.id, true);
    };
    // A new service's replicas' data directories are made while the master's is (init_replicas attaches them).
    const replicas = settleEach(step.initReplicas ?? [], async (id) => void (await agentOf(ctx, id).call('init_server', { serverId: nodeOf(ctx, id).serverId })));
    await Promise.all([master(), replicas]);
    return () => ctx.store.updateNode(n.id, { status: 'ready' });
  },

  provision: async (ctx, step) => {
    // The snapshot comes from the donor (a caught-up replica, or the master); the new node replicates from the master.
    const donor = nodeOf(ctx, step.donorId);
    const source = sourceOf(ctx, step.masterId);
    const donorAgent = ctx.agents.for(donor);
    // Several new nodes take one snapshot together: the donor reads its data once for all of them.
    // A new token per attempt: on a retry, the nodes not yet ready form a new group.
    const share = step.ids.length > 1 ? { key: randomBytes(12).toString('base64url'), receivers: step.ids.length } : undefined;
    await settleEach(step.ids, async (id) => {
      const n = nodeOf(ctx, id);
      // The donor's agent streams its snapshot to this node only because the manager says so,
      // and only until this provisioning ends.
      const peer = ctx.driver.peerName?.(id) ?? id;
      await donorAgent.call('authorize_peer', { peer, ttlSeconds: ctx.timeouts.snapshotGrantSeconds });
      try {
        // The copy goes over a data channel outside Node (the donor's certificate name, and where
        // the new node listens for it) unless the operator turned it off; the agents fall back to
        // HTTPS when either end cannot.
        const channel = ctx.snapshotChannel === false ? undefined : { source: ctx.driver.peerName?.(donor.id) ?? donor.id, host: n.host! };
        await ctx.agents.for(n).call('provision_from', { source: { host: donor.host!, port: donor.agentPort! }, master: source, serverId: n.serverId, ...(channel ? { channel } : {}), ...(share ? { share } : {}) });
      } finally {
        await donorAgent.call('revoke_peer', { peer }).catch(() => undefined);
      }
      await ensureAccounts(ctx, id, false);
      ctx.store.updateNode(id, { status: 'ready' });
    });
  },

  init_replicas: async (ctx, step) => {
    // The master's binary log holds everything since it was made (mariadb-install-db, as these
    // are): each new server replicates it from the first transaction, then takes the accounts.
    const source = sourceOf(ctx, step.masterId);
    const masterPos = (await agentOf(ctx, step.masterId).call('get_status', {})).gtid?.binlogPos ?? '';
    await settleEach(step.ids, async (id) => {
      const n = nodeOf(ctx, id);
      const agent = agentOf(ctx, id);
      const st = await agent.call('init_server', { serverId: n.serverId });
      // Again after a failed attempt: one that replicates already goes on from where it stands.
      if (st.role !== 'replica') await agent.call('configure_replica', { master: source, gtidSlavePos: '' });
      const w = await agent.call('wait_for_gtid', { gtid: masterPos, timeoutSeconds: INIT_CATCH_UP_SECONDS });
      if (!w.reached) throw new AppError('TIMEOUT', `${id} did not apply ${step.masterId}'s first transactions (to ${masterPos}) within ${INIT_CATCH_UP_SECONDS} s`);
      // Its accounts came from the master's binary log; this only checks them.
      await ensureAccounts(ctx, id, false);
      ctx.store.updateNode(id, { status: 'ready' });
    });
  },

  destroy_nodes: async (ctx, step) => {
    for (const id of step.ids) ctx.store.updateNode(id, { status: 'removing' });
    await settleEach(step.ids, async (id) => {
      await ctx.driver.destroyNode(id);
      ctx.store.deleteNode(id);
    });
  },

  forget_nodes: async (ctx, step) => {
    await settleEach(step.ids, async (id) => {
      // The machine is gone as far as the cloud is concerned; clear whatever it left behind.
      await ctx.driver.destroyNode(id);
      ctx.store.atomically(() => {
        ctx.store.deleteNode(id);
        ctx.store.addEvent(`${id} vanished from the cloud: dropped from the registry`);
      });
    });
  },

  destroy_unknown: async (ctx, step) => {
    await settleEach(step.ids, async (id) => ctx.driver.destroyNode(id));
  },
};
