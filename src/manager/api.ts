import { randomBytes } from 'node:crypto';
import { nodeIdOf, type FailoverInfo, type ManagerApi, type ServiceInfo, type ServiceNodeInfo } from '../protocol/manager-api.js';
import { ACCEPTED_STATES, wrongStateMessage, type ServiceState } from '../protocol/service-states.js';
import { streamResult, type Handlers } from '../rpc/server.js';
import type { NodeRecord, ServiceRecord, StateStore } from '../store/store.js';
import { AppError } from '../util/errors.js';
import type { AgentClients } from './agents.js';
import { computePerformance } from './core/performance.js';
import type { ManagerLoop } from './loop.js';
import type { Observer } from './observe.js';
import type { CloudDriver } from './ports.js';

export interface ApiDeps {
  store: StateStore;
  driver: CloudDriver;
  agents: AgentClients;
  observer: Observer;
  loop: ManagerLoop;
  /** The tail of the manager's log, for getLog. */
  readLog: () => Promise<string>;
  failoverChecks: number;
}

/** The service's database user, as ConPaaS named it. */
export const DEFAULT_USER = 'mysqldb';
const EVENTS_SHOWN = 30;

function secret(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * The manager's API. Methods that change the service record the intent (an operation and the
 * new state) in one transaction, wake the loop and answer at once; the loop does the work.
 */
export function managerHandlers(deps: ApiDeps): Handlers<ManagerApi> {
  const { store, driver, agents, observer, loop } = deps;

  const service = (): ServiceRecord => {
    const s = store.service();
    if (!s) throw new AppError('WRONG_STATE', 'the service has not been started: call startup first', { details: { state: 'INIT' } });
    return s;
  };
  const stateNow = (): ServiceState => store.service()?.state ?? 'INIT';
  const requireState = (method: keyof typeof ACCEPTED_STATES & string): void => {
    const state = stateNow();
    if (!(ACCEPTED_STATES[method] ?? []).includes(state)) {
      throw new AppError('WRONG_STATE', wrongStateMessage(method, state), { details: { state, accepted: ACCEPTED_STATES[method] } });
    }
  };
  const nodeOrFail = (id: string): NodeRecord => {
    const n = store.node(id);
    if (!n) {
      const ids = store.nodes().map((x) => x.id);
      throw new AppError('NOT_FOUND', `no node ${id} in this service (nodes: ${ids.join(', ') || 'none'})`);
    }
    return n;
  };
  const master = (): NodeRecord => {
    const m = store.nodes().find((n) => n.role === 'master' && n.status === 'ready');
    if (!m) throw new AppError('WRONG_STATE', 'the service has no master');
    return m;
  };
  const begin = (kind: string, params: Record<string, unknown>, state: ServiceState, patch: Partial<ServiceRecord> = {}, alsoRecord?: () => void): { state: ServiceState } => {
    store.atomically(() => {
      alsoRecord?.();
      store.beginOperation(kind, params);
      store.updateService({ ...patch, state, error: null });
    });
    loop.wake();
    return { state };
  };

  const nodeInfo = (n: NodeRecord): ServiceNodeInfo => {
    const o = observer.observation(n.id);
    const st = o?.status ?? null;
    const r = st?.replication ?? null;
    return {
      id: n.id,
      ip: n.host ?? '',
      port: n.mysqlPort ?? 0,
      agentPort: n.agentPort ?? 0,
      healthPort: n.healthPort ?? 0,
      role: n.role,
      status: n.status,
      isMaster: n.role === 'master',
      isSlave: n.role === 'replica',
      isRunningMySQL: st?.mysqld.state === 'running',
      readOnly: st?.readOnly ?? null,
      gtidPosition: st?.gtid?.currentPos ?? null,
      replication: r
        ? {
            ioRunning: r.ioRunning,
            sqlRunning: r.sqlRunning,
            secondsBehindMaster: r.secondsBehindMaster,
            gtidPosition: st?.gtid?.slavePos ?? '',
            lastError: r.lastIoError || r.lastSqlError,
            masterHost: r.masterHost,
            masterPort: r.masterPort,
          }
        : null,
      lastSeen: o?.lastSeen ?? null,
    };
  };

  const failoverInfo = (): FailoverInfo => {
    const s = store.service();
    const until = s?.failoverBlockedUntil ?? null;
    return { enabled: s?.failoverEnabled ?? true, blockedUntil: until !== null && Date.parse(until) > Date.now() ? until : null, checks: deps.failoverChecks };
  };

  /** The seed's list_nodes: drop from the registry the nodes the cloud no longer lists. */
  const reconcile = async (): Promise<void> => {
    if (store.operation()) return;
    const live = new Set((await driver.listNodes()).map((n) => n.id));
    let dropped = false;
    for (const n of store.nodes()) {
      if (n.status === 'ready' && n.role === 'replica' && !live.has(n.id)) {
        await driver.destroyNode(n.id);
        store.deleteNode(n.id);
        store.addEvent(`${n.id} vanished from the cloud: dropped from the registry`);
        dropped = true;
      }
    }
    // Only a change is worth a round of the loop (a replacement); a read alone is not.
    if (dropped) loop.wake();
  };

  return {
    startup: async (p) => {
      requireState('startup');
      if (p.cloud !== undefined && p.cloud !== driver.name) {
        throw new AppError('INVALID_PARAMS', `startup: cloud '${p.cloud}' is not configured (available: ${driver.name})`);
      }
      const slaves = p.slaves ?? 0;
      if (!store.service()) {
        store.createService({
          state: 'INIT',
          error: null,
          cloud: driver.name,
          user: DEFAULT_USER,
          password: secret(),
          replUser: 'repl',
          replPassword: secret(),
          desiredReplicas: 0,
          nextSeq: 1,
          failoverEnabled: true,
          failoverBlockedUntil: null,
        });
      }
      return begin('startup', { slaves }, 'PROLOGUE', { desiredReplicas: slaves });
    },

    add_nodes: async (p) => {
      requireState('add_nodes');
      if (p.cloud !== undefined && p.cloud !== driver.name) {
        throw new AppError('INVALID_PARAMS', `add_nodes: cloud '${p.cloud}' is not configured (available: ${driver.name})`);
      }
      const count = p.slaves ?? 1;
      const s = service();
      return begin('add_nodes', { count }, 'ADAPTING', { desiredReplicas: s.desiredReplicas + count });
    },

    remove_nodes: async (p) => {
      requireState('remove_nodes');
      const replicas = store.nodes().filter((n) => n.role === 'replica' && n.status === 'ready');
      let ids: string[];
      if (p.serviceNodeId !== undefined) {
        const n = nodeOrFail(p.serviceNodeId);
        if (n.role === 'master') {
          throw new AppError('INVALID_PARAMS', `remove_nodes: ${n.id} is the master and cannot be removed; make another node the master first (set_up_replica_master)`);
        }
        ids = [n.id];
      } else {
        const count = p.slaves!;
        if (count > replicas.length) {
          throw new AppError('INVALID_PARAMS', `remove_nodes: the service has ${replicas.length} replica${replicas.length === 1 ? '' : 's'}, cannot remove ${count}; the master is never removed`);
        }
        ids = replicas.sort((a, b) => b.serverId - a.serverId).slice(0, count).map((n) => n.id);
      }
      const s = service();
      return begin('remove_nodes', { ids }, 'ADAPTING', { desiredReplicas: Math.max(0, s.desiredReplicas - ids.length) }, () => {
        for (const id of ids) store.updateNode(id, { status: 'removing' });
      });
    },

    list_nodes: async () => {
      await reconcile();
      const nodes = store.nodes();
      return {
        masters: nodes.filter((n) => n.role === 'master').map((n) => n.id),
        slaves: nodes.filter((n) => n.role === 'replica').map((n) => n.id),
        serviceNode: nodes.map((n) => n.id),
      };
    },

    get_node_info: async (p) => ({ serviceNode: nodeInfo(nodeOrFail(nodeIdOf(p))) }),

    get_service_info: async (): Promise<ServiceInfo> => {
      const s = store.service();
      const nodes = store.nodes();
      const m = nodes.find((n) => n.role === 'master' && n.host !== null);
      const op = store.operation();
      return {
        state: s?.state ?? 'INIT',
        type: 'mysql',
        user: s?.user ?? DEFAULT_USER,
        master: m && m.status === 'ready' ? `${m.host}:${m.mysqlPort}` : null,
        slaves: nodes.filter((n) => n.role === 'replica' && n.status === 'ready').map((n) => `${n.host}:${n.mysqlPort}`),
        nodes: nodes.map(nodeInfo),
        desiredReplicas: s?.desiredReplicas ?? 0,
        operation: op ? { kind: op.kind, startedAt: op.startedAt, step: loop.current } : null,
        error: s?.error ?? null,
        events: store.events(EVENTS_SHOWN),
        failover: failoverInfo(),
        diagnosis: loop.lastDecision,
      };
    },

    set_up_replica_master: async (p) => {
      requireState('set_up_replica_master');
      const n = nodeOrFail(nodeIdOf(p));
      const m = master();
      if (n.id === m.id) throw new AppError('INVALID_PARAMS', `set_up_replica_master: ${n.id} is already the master`);
      if (n.status !== 'ready') throw new AppError('WRONG_STATE', `set_up_replica_master: ${n.id} is ${n.status}, not ready`);
      return begin('switchover', { candidateId: n.id, oldMasterId: m.id }, 'ADAPTING');
    },

    set_up_replica_slave: async (p) => {
      requireState('set_up_replica_slave');
      const n = nodeOrFail(nodeIdOf(p));
      if (n.role === 'master') {
        throw new AppError('INVALID_PARAMS', `set_up_replica_slave: ${n.id} is the master; make another node the master first (set_up_replica_master)`);
      }
      if (n.status !== 'ready') throw new AppError('WRONG_STATE', `set_up_replica_slave: ${n.id} is ${n.status}, not ready`);
      return begin('attach', { id: n.id }, 'ADAPTING');
    },

    shutdown: async () => {
      requireState('shutdown');
      return begin('shutdown', {}, 'EPILOGUE');
    },

    get_service_performance: async () => computePerformance(observer.counterPairs()),

    get_password: async () => service().password,

    set_password: async (p) => {
      requireState('set_password');
      const s = service();
      const user = p.user ?? s.user;
      if (user !== s.user) throw new AppError('INVALID_PARAMS', `set_password: the service's user is '${s.user}', not '${user.slice(0, 80)}'`);
      await agents.for(master()).call('set_password', { user, password: p.password });
      store.updateService({ password: p.password });
      store.addEvent(`password of ${user} changed`);
      return { user };
    },

    sqldump: async () => {
      requireState('sqldump');
      const stream = await agents.for(master()).stream('dump', {});
      return streamResult(stream, { contentType: 'application/sql', filename: 'dump.sql' });
    },

    load_dump: async (_p, ctx) => {
      if (!ctx.file) throw new AppError('INVALID_PARAMS', "load_dump: missing file field 'mysqldump_file'");
      try {
        requireState('load_dump');
      } catch (err) {
        ctx.file.resume();
        throw err;
      }
      // Loaded as the service user: an upload has the rights of whoever uploads it, not the system's.
      const s = service();
      const r = await agents.for(master()).upload('load_dump', 'mysqldump_file', ctx.file, { params: { user: s.user, password: s.password } });
      store.addEvent(`dump of ${r.bytes} bytes (${r.statements} statements) loaded into the master`);
      return { bytes: r.bytes };
    },

    getLog: async () => ({ log: await deps.readLog() }),

    failover: async (p) => {
      requireState('failover');
      const m = store.nodes().find((n) => n.role === 'master' && n.status === 'ready');
      if (!m) throw new AppError('WRONG_STATE', 'failover: the service has no master to fail over from');
      if (p.serviceNodeId !== undefined) {
        const n = nodeOrFail(p.serviceNodeId);
        if (n.role !== 'replica' || n.status !== 'ready') throw new AppError('INVALID_PARAMS', `failover: ${n.id} is not a ready replica`);
      }
      if (!store.nodes().some((n) => n.role === 'replica' && n.status === 'ready')) {
        throw new AppError('WRONG_STATE', 'failover: there is no replica to promote');
      }
      store.addEvent(`failover ordered by an operator from ${m.id}`);
      return begin('failover', { oldMasterId: m.id, automatic: false, ...(p.serviceNodeId ? { candidateId: p.serviceNodeId } : {}) }, 'ADAPTING');
    },

    set_failover: async (p) => {
      service();
      store.updateService({ failoverEnabled: p.enabled });
      store.addEvent(`automatic failover switched ${p.enabled ? 'on' : 'off'}`);
      loop.wake();
      return failoverInfo();
    },

    acknowledge_failover: async () => {
      const s = service();
      if (s.failoverBlockedUntil !== null) store.addEvent('failover block lifted by an operator');
      store.updateService({ failoverBlockedUntil: null });
      loop.wake();
      return failoverInfo();
    },
  };
}
