import { randomBytes } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { AgentApi } from '../protocol/agent-api.js';
import type { RpcClient } from '../rpc/client.js';
import { streamResult, type Handlers } from '../rpc/server.js';
import { AppError, isAppError } from '../util/errors.js';
import { sleep } from '../util/proc.js';
import type { HandlerCore } from './handler-core.js';
import type { PeerGrants } from './peer-grants.js';
import { DEFAULT_SHARE_LIMITS, SnapshotShare, type ShareRequest } from './snapshot-share.js';
import { channelUnusable, sendChannel } from '../util/tls-channel.js';
import { ChannelSends, channelFeed, NO_CHANNEL, SENT_WAIT_SECONDS, socketInput } from './snapshot-channel.js';
import type { SnapshotInput } from '../engine/engine.js';
import type { SnapshotChannel } from '../protocol/agent-api.js';

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
  /** This agent's certificate, key and CA (PEM file paths) for data channels; null when it runs without TLS. */
  tlsFiles: { cert: string; key: string; ca: string } | null;
  /** Where this agent makes the Unix sockets of same-host data channels (made 0700 if missing). */
  channelDir: string;
}

/**
 * Why `path` may not take a snapshot (a same-host data channel), or null: it must be a Unix
 * socket of this process's own OS user that no other user may open (mode 0600, as the
 * receiving agent makes it) — a caller cannot send a copy to another user's socket.
 */
export function notOwnSocket(path: string): string | null {
  try {
    const st = lstatSync(path);
    if (!st.isSocket()) return `${path} is not a socket`;
    if (st.uid !== process.getuid?.()) return `${path} belongs to another OS user`;
    if ((st.mode & 0o077) !== 0) return `${path} is open to other users (mode ${(st.mode & 0o777).toString(8)})`;
    return null;
  } catch {
    return `no socket ${path} on this host`;
  }
}

/**
 * Snapshots between agents: the manager grants a peer one (`authorize_peer`, `revoke_peer`),
 * a donor streams one copy to its group of receivers (`stream_snapshot`, src/agent/snapshot-share.ts)
 * or sends it over data channels outside Node (`send_snapshot`, `snapshot_sent`,
 * src/agent/snapshot-channel.ts), a new node takes it, prepares it and attaches to the master
 * (`provision_from`: over a channel when the manager names one and both ends can, else HTTPS).
 */
export function snapshotHandlers(deps: SnapshotDeps): Pick<Handlers<AgentApi>, 'authorize_peer' | 'revoke_peer' | 'stream_snapshot' | 'send_snapshot' | 'snapshot_sent' | 'provision_from'> {
  const { engine, state, logger, lock, status, settingsOf, requireRunning } = deps;
  /** The snapshot being gathered or streamed, if any: one at a time on a node, shared by its group. */
  const share = new SnapshotShare((lsn) => engine.snapshotStream(lsn), DEFAULT_SHARE_LIMITS, {
    started: (receivers, expected) => logger.info({ receivers, expected }, 'snapshot copy started'),
    cut: (reason) => logger.warn({ reason }, 'a snapshot receiver was cut off'),
  });

  /** The donor's data-channel sends under way or not yet accounted for. */
  const sends = new ChannelSends();

  /**
   * Asks the source for its snapshot (in the group `group` names, if any), waiting while it
   * streams another one; a receiver that missed its group's start asks again alone.
   */
  const whenFree = async <T>(group: ShareRequest | undefined, ask: (group: ShareRequest | undefined) => Promise<T>): Promise<T> => {
    const deadline = Date.now() + SNAPSHOT_QUEUE_MS;
    let g = group;
    for (;;) {
      try {
        return await ask(g);
      } catch (err) {
        if (!(isAppError(err) && err.code === 'BUSY') || Date.now() > deadline) throw err;
        g = undefined;
        await sleep(250);
      }
    }
  };
  const pullSnapshot = (peer: RpcClient<AgentApi>, group?: ShareRequest): Promise<Readable> => whenFree(group, (g) => peer.stream('stream_snapshot', g ? { share: g } : {}));

  /**
   * The snapshot over a data channel from the donor, when both ends can open one (null: use
   * HTTPS). A donor at this node's own address is on this host: the channel is a Unix socket in
   * this agent's directory (no TLS to pay for; only this OS user can connect), else TCP with TLS.
   */
  const channelInput = (peer: RpcClient<AgentApi>, source: { host: string }, channel: SnapshotChannel | undefined, group?: ShareRequest): SnapshotInput | null => {
    if (channel === undefined) return null;
    const socket = source.host === channel.host ? join(deps.channelDir, `snapshot-${randomBytes(6).toString('hex')}.sock`) : null;
    const tls = deps.tlsFiles && socket === null ? { ...deps.tlsFiles, peerName: channel.source } : null;
    const why = channelUnusable(socket ?? channel.host, tls);
    if (why !== null) {
      logger.info({ why }, 'the snapshot comes over HTTPS: no data channel here');
      return null;
    }
    const receive = {
      bind: socket ?? channel.host,
      tls,
      ask: (port: number) => whenFree(group, async (g) => (await peer.call('send_snapshot', { to: socket ? { socket } : { host: channel.host, port }, ...(g ? { share: g } : {}) })).id),
      sent: async (id: string) => (await peer.call('snapshot_sent', { id, timeoutSeconds: SENT_WAIT_SECONDS }, { timeoutMs: (SENT_WAIT_SECONDS + 10) * 1000 })).bytes,
    };
    // On a Unix socket mbstream reads the donor's connection itself; over TCP, socat decrypts into it.
    return socket !== null ? socketInput(receive) : channelFeed(receive);
  };
  /** True when no data channel could be made (the donor cannot open one or does not know send_snapshot; its sender never connected). */
  const noChannel = (e: unknown): boolean => isAppError(e) && (e.code === 'METHOD_NOT_FOUND' || e.details?.['channel'] === NO_CHANNEL);

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

    send_snapshot: async (params, ctx) => {
      requireRunning('send_snapshot');
      // A same-host socket takes no TLS: its owner and mode are the check (notOwnSocket).
      const socket = 'socket' in params.to ? params.to.socket : null;
      const [to, port] = 'socket' in params.to ? [params.to.socket, 0] : [params.to.host, params.to.port];
      const tls = deps.tlsFiles && ctx.peer !== null && socket === null ? { ...deps.tlsFiles, peerName: ctx.peer } : null;
      const why = deps.tlsFiles && ctx.peer === null ? 'the caller showed no certificate' : (channelUnusable(to, tls) ?? (socket !== null ? notOwnSocket(socket) : null));
      if (why !== null) throw new AppError('WRONG_STATE', `send_snapshot: this node cannot open a data channel (${why}); use stream_snapshot`, { details: { channel: NO_CHANNEL } });
      // The grant is used up once the sender reached the peer: one that cannot (a firewall) may still pull over HTTPS.
      const onConnected = (): void => {
        if (ctx.peer !== null && ctx.peer !== MANAGER_PEER) deps.grants.consume(ctx.peer);
      };
      if (params.share !== undefined) {
        // A group: one copy read here and fanned out, each receiver at its own pace (snapshot-share.ts).
        const stream = share.join(params.share);
        logger.info({ peer: ctx.peer, to: params.to, group: params.share }, 'sending a snapshot over a data channel');
        return { id: sends.start(ctx.peer, () => sendChannel(stream, to, port, tls, { onConnected })) };
      }
      // One receiver: mariadb-backup writes into the connection (or socat's stdin, for TLS) itself.
      const slot = share.reserve();
      logger.info({ peer: ctx.peer, to: params.to, group: null, straight: true }, 'sending a snapshot over a data channel');
      return { id: sends.start(ctx.peer, () => sendChannel((out) => engine.snapshotInto(out), to, port, tls, { onConnected }).finally(slot.release)) };
    },

    snapshot_sent: async (params, ctx) => ({ id: params.id, bytes: await sends.result(params.id, ctx.peer, params.timeoutSeconds * 1000) }),

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
        const channel = channelInput(peer, params.source, params.channel, params.share);
        let firstByteMs = 0;
        let over: 'channel' | 'https' = channel === null ? 'https' : 'channel';
        const overHttps = async (): Promise<Awaited<ReturnType<typeof engine.restoreSnapshot>>> => {
          over = 'https';
          const stream = await pullSnapshot(peer, params.share);
          firstByteMs = Date.now() - started;
          return engine.restoreSnapshot(stream, settings);
        };
        const { gtid, bytes, ms } = channel === null ? await overHttps() : await engine.restoreSnapshot(channel, settings).catch(async (e: unknown) => {
          if (!noChannel(e)) throw e;
          logger.warn({ err: (e as Error).message }, 'no data channel could be made with the donor: the snapshot comes over HTTPS');
          return overHttps();
        });
        await state.update({ restoredGtid: gtid });
        await engine.configureReplica(params.master, gtid);
        await state.update({ role: 'replica', masterHost: params.master.host, masterPort: params.master.port, restoredGtid: null, provisioning: false });
        logger.info({ bytes, gtid, ms: Date.now() - started, over, stages: { ...(over === 'https' ? { answered: firstByteMs } : {}), ...ms } }, 'provisioned from snapshot');
        return { restoredGtid: gtid, bytes };
      }).finally(() => deps.onChange?.());
      return { ...(await status()), ...restored };
    },
  };
}
