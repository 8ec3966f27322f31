import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { AgentApi, AgentStatus, ReplicationStatus, ServerSettings } from '../protocol/agent-api.js';
import { serverSettings, type Engine, type EngineReplication, type EngineSettings } from '../engine/engine.js';
import type { RpcClient } from '../rpc/client.js';
import { streamResult, type Handlers } from '../rpc/server.js';
import { AppError, isAppError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { Mutex } from '../util/mutex.js';
import { VERSION } from '../version.js';
import type { AgentStateFile } from './agent-state.js';
import type { PeerGrants } from './peer-grants.js';
import { fenceServer, holdFence } from './fence.js';
import { userHandlers } from './user-handlers.js';
import { hostHandlers } from './host-handlers.js';
import { restoreHandlers } from './restore-handlers.js';
import { snapshotHandlers } from './snapshot-handlers.js';
import type { HandlerCore } from './handler-core.js';

/** What the agent's handlers work with. */
export interface AgentDeps {
  /** The door to this node's server. */
  engine: Engine;
  /** What the agent remembers of its node. */
  state: AgentStateFile;
  /** The node's directory (uploads are spooled below it). */
  dir: string;
  /** Where the agent logs. */
  logger: Logger;
  /** Peers allowed to pull a snapshot. */
  grants: PeerGrants;
  /** Called after every change the agent makes to its server (health answers are read afresh). */
  onChange?: () => void;
  /** The manager renewed its lease, naming where the replicas serve (isolation.ts). */
  onLease?: (replicas: { host: string; port: number }[]) => void;
  /** How this agent calls a peer agent: scheme and TLS material (its own certificate). */
  peerClient: (host: string, port: number) => RpcClient<AgentApi>;
  /** This agent's certificate, key and CA (PEM file paths) for snapshot data channels; null or absent without TLS. */
  tlsFiles?: { cert: string; key: string; ca: string } | null;
}

/** Accounts the service must keep for itself; `set_password` refuses them. */
const RESERVED_USERS = new Set(['root', 'mariadb.sys', 'mysql', 'public']);

export { MANAGER_PEER } from './snapshot-handlers.js';


/** A replica's status as the wire carries it (the account it logs in as stays here). */
function withoutUser(r: EngineReplication): ReplicationStatus {
  const { masterUser: _user, ...rest } = r;
  return rest;
}

/** The agent's methods. The agent acts only when called: the manager decides. */
export function agentHandlers(deps: AgentDeps): Handlers<AgentApi> {
  const { engine, state, logger } = deps;
  const lock = new Mutex();

  const settingsOf = (serverId: number, s: ServerSettings): EngineSettings => serverSettings(serverId, s);

  const status = async (): Promise<AgentStatus> => {
    const p = engine.process();
    const st = state.get();
    let sqlStatus = null;
    if (p.state === 'running') {
      try {
        sqlStatus = await engine.status();
        if (await holdFence(engine, state, logger, sqlStatus.readOnly)) sqlStatus = { ...sqlStatus, readOnly: true };
      } catch (err) {
        logger.debug({ err }, 'status query failed');
      }
    }
    return {
      agentVersion: VERSION,
      // A server that runs but does not answer within the status deadline is frozen or overloaded: the manager must know.
      mysqld: { state: p.state, answers: sqlStatus !== null, pid: p.pid, host: engine.host, port: engine.port, lastExit: p.lastExit },
      serverId: sqlStatus?.serverId ?? st.serverId,
      role: st.role,
      readOnly: sqlStatus?.readOnly ?? null,
      waitNoSlave: sqlStatus?.waitNoSlave ?? null,
      fenced: st.fenced,
      gtid: sqlStatus?.gtid ?? null,
      replication: sqlStatus?.replication ? withoutUser(sqlStatus.replication) : null,
      busy: lock.busy,
    };
  };

  /** Runs a state-changing section under the lock, then reports the status it left. */
  const locked = async (name: string, fn: () => Promise<void>): Promise<AgentStatus> => {
    try {
      await lock.run(name, fn);
    } finally {
      deps.onChange?.();
    }
    return status();
  };

  const requireRunning = (method: string): void => {
    const s = engine.process().state;
    if (s !== 'running') throw new AppError('WRONG_STATE', `wrong state to ${method}: mariadbd is ${s} (accepted: running)`, { details: { state: s } });
  };

  const refuseReserved = (method: string, user: string): void => {
    if (RESERVED_USERS.has(user.toLowerCase()) || user === engine.dbUserName) {
      throw new AppError('INVALID_PARAMS', `${method}: the user '${user}' is reserved`);
    }
  };

  const requireMaster = (method: string): void => {
    requireRunning(method);
    const role = state.get().role;
    if (role !== 'master') {
      throw new AppError('WRONG_STATE', `wrong state to ${method}: this node is ${role === 'replica' ? 'a replica' : 'not a master'}; call it on the master (replicas follow by replication)`, {
        details: { role },
      });
    }
  };

  const core: HandlerCore = { engine, state, logger, lock, status, settingsOf };

  return {
    ...userHandlers(engine, state),
    ...hostHandlers(state, deps.onLease),
    ...restoreHandlers({ ...core, spoolDir: join(deps.dir, 'tmp') }),
    ...snapshotHandlers({ ...core, grants: deps.grants, peerClient: deps.peerClient, onChange: deps.onChange, requireRunning, tlsFiles: deps.tlsFiles ?? null, channelDir: join(deps.dir, 'tmp') }),

    check_agent_process: async () => ({ ok: true, pid: process.pid, version: VERSION }),

    get_status: status,

    init_server: (params) =>
      locked('init_server', async () => {
        const st = state.get();
        if (engine.isInitialized() && st.serverId !== null && st.serverId !== params.serverId) {
          throw new AppError('WRONG_STATE', `this node was initialized with serverId ${st.serverId}, not ${params.serverId}`);
        }
        const merged = { ...st.settings, ...(params.settings ?? {}) };
        const settings = settingsOf(params.serverId, merged);
        const datadir = await engine.initialize(settings);
        await state.update({ serverId: params.serverId, settings: merged });
        await engine.start(settings);
        logger.info({ serverId: params.serverId, port: engine.port, datadir }, 'server running');
      }),

    configure_master: (params) =>
      locked('configure_master', async () => {
        requireRunning('configure_master');
        const s = await engine.status();
        if (s.replication !== null) {
          throw new AppError('WRONG_STATE', `wrong state to configure_master: this node replicates from ${s.replication.masterHost}:${s.replication.masterPort}; call promote instead`);
        }
        await engine.ensureReplicationUser(params.replUser, params.replPassword);
        await engine.setReadOnly(false);
        const events = await engine.setMasterRole(true);
        if (events.length > 0) logger.info({ events }, 'events enabled on the new master');
        await state.update({ role: 'master', masterHost: null, masterPort: null, fenced: false });
      }),

    configure_replica: (params) =>
      locked('configure_replica', async () => {
        requireRunning('configure_replica');
        if (params.master.host === engine.host && params.master.port === engine.port) {
          throw new AppError('INVALID_PARAMS', 'configure_replica: a node cannot replicate from itself');
        }
        await engine.setMasterRole(false);
        await engine.configureReplica(params.master, params.gtidSlavePos);
        await state.update({ role: 'replica', masterHost: params.master.host, masterPort: params.master.port, fenced: false });
      }),

    wait_for_gtid: async (params) => {
      requireRunning('wait_for_gtid');
      const reached = params.gtid === '' ? true : await engine.waitForGtid(params.gtid, params.timeoutSeconds);
      const s = await engine.status();
      return { reached, gtid: s.gtid };
    },

    stop_replica_io: () =>
      locked('stop_replica_io', async () => {
        requireRunning('stop_replica_io');
        await engine.stopReplicaIo();
      }),

    promote: () =>
      locked('promote', async () => {
        requireRunning('promote');
        await engine.promote();
        await state.update({ role: 'master', masterHost: null, masterPort: null, fenced: false });
      }),

    fence: async (params) => {
      try {
        return { fenced: await fenceServer(engine, state, logger, params.deadlineMs) };
      } finally {
        deps.onChange?.();
      }
    },

    set_read_only: (params) =>
      locked('set_read_only', async () => {
        requireRunning('set_read_only');
        await engine.setReadOnly(params.readOnly);
      }),

    set_password: async (params) => {
      refuseReserved('set_password', params.user);
      requireMaster('set_password');
      await engine.ensureServiceUser(params.user, params.password);
      return { user: params.user };
    },

    ensure_accounts: async (params) => {
      refuseReserved('ensure_accounts', params.service.user);
      refuseReserved('ensure_accounts', params.replication.user);
      requireRunning('ensure_accounts');
      // Only the manager knows for sure which node is the master (an old one may still think it is).
      const changed = await engine.ensureAccounts(params, { binlog: params.isMaster });
      if (Object.keys(changed).length > 0) logger.warn({ changed }, 'accounts put back as the manager knows them');
      return { changed };
    },

    dump: async () => {
      requireRunning('dump');
      return streamResult(await engine.dumpStream(), { contentType: 'application/sql', filename: 'dump.sql' });
    },

    load_dump: async (params, ctx) => {
      if (!ctx.file) throw new AppError('INVALID_PARAMS', "load_dump: missing file field 'mysqldump_file'");
      try {
        requireMaster('load_dump');
      } catch (err) {
        ctx.file.resume();
        throw err;
      }
      // Spool the upload to disk first: a truncated upload then changes nothing.
      const spool = join(deps.dir, 'tmp', `upload-${randomBytes(8).toString('hex')}.sql`);
      let bytes = 0;
      ctx.file.on('data', (c: Buffer) => (bytes += c.length));
      try {
        try {
          await pipeline(ctx.file, createWriteStream(spool, { mode: 0o600 }));
        } catch (err) {
          if (isAppError(err)) throw err;
          throw new AppError('INVALID_PARAMS', `load_dump: the upload did not complete (${bytes} bytes received): ${(err as Error).message}`, { cause: err });
        }
        const r = await engine.loadDump(spool, params);
        logger.info({ bytes, statements: r.statements, warnings: r.warnings.length }, 'dump loaded');
        return { bytes, ...r };
      } finally {
        await rm(spool, { force: true });
      }
    },

    set_wait_no_slave: (params) =>
      locked('set_wait_no_slave', async () => {
        requireRunning('set_wait_no_slave');
        await engine.setWaitNoSlave(params.on);
      }),


    wipe: () =>
      locked('wipe', async () => {
        await engine.wipe();
        await state.update({ serverId: null, settings: {}, role: 'none', masterHost: null, masterPort: null, restoredGtid: null, provisioning: false, fenced: false });
      }),

    checksum_tables: async (params) => {
      requireRunning('checksum_tables');
      return { tables: await engine.checksumTables(params.schemas) };
    },

    get_counters: async (params) => {
      requireRunning('get_counters');
      const c = await engine.counters(params.ignoreUsers ?? []);
      return { at: new Date().toISOString(), ...c };
    },

    stop: ({ graceMs }) =>
      locked('stop', async () => {
        await engine.stop(graceMs);
      }),
  };
}
