import type { Readable } from 'node:stream';
import type { AgentApi } from '../protocol/agent-api.js';
import type { RpcClient } from '../rpc/client.js';
import { streamResult, type Handlers } from '../rpc/server.js';
import { AppError, isAppError } from '../util/errors.js';
import { sleep } from '../util/proc.js';
import type { HandlerCore } from './handler-core.js';
import type { PeerGrants } from './peer-grants.js';
import { DEFAULT_SHARE_LIMITS, SnapshotShare, type ShareRequest } from './snapshot-share.js';

/** The manager's certificate name; every method is its to call. */
export const MANAGER_PEER = 'manager';

/** How long a new node keeps asking a busy source for its snapshot (one copy runs at a time). */
const SNAPSHOT_QUEUE_MS = 10 * 60_000;

/** What the snapshot handlers work with: the handlers' core, the peer grants and the way to a peer. */
export interface SnapshotDeps extends HandlerCore {
  /** Peers allowed to pull a snapshot. */
  grants: PeerGrants;
  /** How this agent calls a peer agent. */
  peerClient: (host: string, port: number) => RpcClient<AgentApi>;
  /** Called after the agent changed its server. */
  onChange?: () => void;
  /** Throws WRONG_STATE naming `method` unless the server runs. */
  requireRunning: (method: string) => void;
}

/**
 * Snapshots between agents: the manager grants a peer one (`authorize_peer`, `revoke_peer`),
 * a donor streams one copy to its group of receivers (`stream_snapshot`, src/agent/snapshot-share.ts),
 * a new node pulls it, prepares it and attaches to the master (`provision_from`).
 */
export function snapshotHandlers(deps: SnapshotDeps): Pick<Handlers<AgentApi>, 'authorize_peer' | 'revoke_peer' | 'stream_snapshot' | 'provision_from'> {
  const { engine, state, logger, lock, status, settingsOf, requireRunning } = deps;
  /** The snapshot being gathered or streamed, if any: one at a time on a node, shared by its group. */
  const share = new SnapshotShare((lsn) => engine.snapshotStream(lsn), DEFAULT_SHARE_LIMITS, {
    started: (receivers, expected) => logger.info({ receivers, expected }, 'snapshot copy started'),
    cut: (reason) => logger.warn({ reason }, 'a snapshot receiver was cut off'),
  });

  /**
   * Asks the source for its snapshot (in the group `group` names, if any), waiting while it
   * streams another one; a receiver that missed its group's start asks again alone.
   */
  const pullSnapshot = async (peer: RpcClient<AgentApi>, group?: ShareRequest): Promise<Readable> => {
    const deadline = Date.now() + SNAPSHOT_QUEUE_MS;
    let ask = group;
    for (;;) {
      try {
        return await peer.stream('stream_snapshot', ask ? { share: ask } : {});
      } catch (err) {
        if (!(isAppError(err) && err.code === 'BUSY') || Date.now() > deadline) throw err;
        ask = undefined;
        await sleep(250);
      }
    }
  };

  return {
    authorize_peer: async (params) => {
      const until = deps.grants.grant(params.peer, params.ttlSeconds);
      logger.info({ peer: params.peer, ttlSeconds: params.ttlSeconds }, 'peer authorized to pull a snapshot');
      return { peer: params.peer, until: new Date(until).toISOString() };
    },

    revoke_peer: async (params) => {
      const revoked = deps.grants.revoke(params.peer);
      if (revoked) logger.info({ peer: params.peer }, 'peer no longer authorized to pull a snapshot');
      return { peer: params.peer, revoked };
    },

    stream_snapshot: async (params, ctx) => {
      requireRunning('stream_snapshot');
      const stream = share.join(params.share, params.incrementalLsn);
      if (ctx.peer !== null && ctx.peer !== MANAGER_PEER) deps.grants.consume(ctx.peer);
      logger.info({ peer: ctx.peer, group: params.share ?? null }, 'streaming a snapshot');
      return streamResult(stream, { contentType: 'application/octet-stream', filename: 'snapshot.xbstream' });
    },

    provision_from: async (params) => {
      const restored = await lock.run('provision_from', async (): Promise<{ restoredGtid: string; bytes: number }> => {
        const st = state.get();
        if (engine.isInitialized()) {
          const replicatingFromIt = st.role === 'replica' && st.masterHost === params.master.host && st.masterPort === params.master.port;
          if (replicatingFromIt && st.serverId === params.serverId) {
            if (engine.process().state !== 'running') await engine.start(settingsOf(params.serverId, st.settings));
            return { restoredGtid: '', bytes: 0 };
          }
          // Restored earlier but never attached (the attach failed, or the caller went away).
          if (st.role === 'none' && st.restoredGtid !== null && st.serverId === params.serverId) {
            if (engine.process().state !== 'running') await engine.start(settingsOf(params.serverId, st.settings));
            await engine.configureReplica(params.master, st.restoredGtid);
            await state.update({ role: 'replica', masterHost: params.master.host, masterPort: params.master.port, restoredGtid: null, provisioning: false });
            return { restoredGtid: st.restoredGtid, bytes: 0 };
          }
          // An attempt that failed after laying down its copy (its server would not start, the agent
          // went down): nothing was ever served from it, so this attempt starts again from nothing.
          if (st.provisioning && st.role === 'none' && st.serverId === params.serverId) {
            logger.warn({ serverId: params.serverId }, 'a provisioning that failed half way is done again: its copy is wiped');
            await engine.wipe();
          } else throw new AppError('WRONG_STATE', 'wrong state to provision_from: this node already holds data (accepted: a new node)');
        }
        const settingsIn = params.settings ?? {};
        const settings = settingsOf(params.serverId, settingsIn);
        await state.update({ serverId: params.serverId, settings: settingsIn, role: 'none', provisioning: true });
        const peer = deps.peerClient(params.source.host, params.source.port);
        const started = Date.now();
        const stream = await pullSnapshot(peer, params.share);
        const firstByteMs = Date.now() - started;
        const { gtid, bytes, ms } = await engine.restoreSnapshot(stream, settings);
        await state.update({ restoredGtid: gtid });
        await engine.configureReplica(params.master, gtid);
        await state.update({ role: 'replica', masterHost: params.master.host, masterPort: params.master.port, restoredGtid: null, provisioning: false });
        logger.info({ bytes, gtid, ms: Date.now() - started, stages: { answered: firstByteMs, ...ms } }, 'provisioned from snapshot');
        return { restoredGtid: gtid, bytes };
      }).finally(() => deps.onChange?.());
      return { ...(await status()), ...restored };
    },
  };
}
