import { randomBytes } from 'node:crypto';
import { nodeIdOf, type ManagerApi } from '../protocol/manager-api.js';
import type { OperationKind, ParamsByKind } from '../protocol/operations.js';
import { ACCEPTED_STATES, wrongStateMessage, type ServiceState } from '../protocol/service-states.js';
import { streamResult, type Handlers } from '../rpc/server.js';
import type { NodeRecord, ServiceRecord, StateStore } from '../store/store.js';
import type { CloudDriver } from '../cloud/driver.js';
import { AppError } from '../util/errors.js';
import { readableLog } from '../util/log-text.js';
import { withoutSandboxLine } from '../util/sandbox-line.js';
import type { AgentDirectory } from './agent-port.js';
import { DEFAULT_USER, failoverInfo, nodeInfo } from './api-views.js';
import { ServiceView } from './service-view.js';
import type { Clock } from './clock.js';
import { liveReplicas, masterOf } from './core/model.js';
import { planFailover, planRetry, planSwitchover, type Begin } from './api-recovery.js';
import { userApi } from './api-users.js';
import { hostApi } from './api-hosts.js';
import type { HostStore } from '../store/host-store.js';
import { loadAndVerify } from './api-load.js';
import { servicePerformance } from './core/performance.js';
import { backupApi } from './api-backups.js';
import type { BackupRunner } from './backups.js';
import type { BackupSchedule } from './backup-schedule.js';
import type { ArchiveKeeper } from './archive/keeper.js';
import { performanceHistory } from './core/history.js';
import type { ManagerLoop } from './loop.js';
import type { Observer } from './observe.js';

export { DEFAULT_USER } from './api-views.js';

/** What the API's handlers work with. */
export interface ApiDeps {
  /** The service's records. */
  store: StateStore;
  /** The cloud (its name, for `cloud` parameters). */
  driver: CloudDriver;
  /** The nodes' agents (streams: sqldump, load_dump). */
  agents: AgentDirectory;
  /** What the monitor last saw (node info, performance). */
  observer: Observer;
  /** The loop, to wake and to wait for. */
  loop: ManagerLoop;
  /** The time. */
  clock: Clock;
  /** The tail of the manager's log, for getLog. */
  readLog: () => Promise<string>;
  /** Failed checks before the master counts as unreachable (shown in get_service_info). */
  failoverChecks: number;
  /** How long (ms) a call that waits for the loop (set_password) waits at most. */
  loopWaitMs: number;
  /** The static cloud's hosts (null or absent on another cloud). */
  hosts?: HostStore | null;
  /** How a joining host reaches this manager: its URL and the service CA's pin. */
  join?: { managerUrl: string; caHash: string };
  /** The backups, taken beside the loop (null or absent: this manager keeps none). */
  backups?: BackupRunner | null;
  /** The backup schedule and retention (null or absent: none). */
  backupSchedule?: BackupSchedule | null;
  /** Point-in-time recovery: the archive's keeper (null or absent: none). */
  pitr?: ArchiveKeeper | null;
}

function secret(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * The manager's API. Methods that change the service record the intent (an operation and the
 * new state, or a new password) in one transaction and wake the loop; the loop does the work.
 * Those that must answer with its outcome (set_password) wait for it, bounded. Reads
 * (get_service_info, list_nodes, get_node_info) answer from memory (ServiceView).
 */
export function managerHandlers(deps: ApiDeps): Handlers<ManagerApi> {
  const { store, driver, agents, observer, loop, clock } = deps;
  // get_service_info (and get_node_info) from memory: rebuilt only when what it shows changes.
  const view = new ServiceView({ store, observer, loop, failoverChecks: deps.failoverChecks, now: () => clock.now(), recoverable: () => deps.pitr?.window ?? null });

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
  // ConPaaS's clients name no cloud as `default`: the manager's configured cloud.
  const requireCloud = (method: string, cloud: string | undefined): void => {
    if (cloud !== undefined && cloud !== 'default' && cloud !== driver.name) throw new AppError('INVALID_PARAMS', `${method}: cloud '${cloud}' is not configured (available: default, ${driver.name})`);
  };
  const nodeOrFail = (id: string): NodeRecord => {
    const n = store.node(id);
    if (!n) {
      const ids = store.nodes().map((x) => x.id);
      throw new AppError('NOT_FOUND', `no node ${id} in this service (nodes: ${ids.join(', ') || 'none'})`);
    }
    return n;
  };
  const readyMaster = (): NodeRecord => {
    const m = masterOf(store.nodes());
    if (!m || m.status !== 'ready') throw new AppError('WRONG_STATE', 'the service has no master');
    return m;
  };
  const begin = <K extends OperationKind>(kind: K, params: ParamsByKind[K], state: ServiceState, patch: Partial<ServiceRecord> = {}, alsoRecord?: () => void): { state: ServiceState } => {
    store.atomically(() => {
      alsoRecord?.();
      store.beginOperation(kind, params);
      store.updateService({ ...patch, state, error: null });
    });
    loop.wake();
    return { state };
  };

  const beginPlanned = (plan: Begin): { state: ServiceState } =>
    begin(plan.kind, plan.params as ParamsByKind[typeof plan.kind], plan.state, {}, plan.event ? () => store.addEvent(plan.event!) : undefined);

  return {
    ...userApi({ store, agents, readyMaster, requireState }),
    ...hostApi({ hosts: deps.hosts ?? null, store, agents, clock, join: deps.join ?? { managerUrl: '', caHash: '' } }),
    ...backupApi(deps.backups ?? null, deps.backupSchedule ?? null),

    startup: async (p) => {
      requireState('startup');
      requireCloud('startup', p.cloud);
      const slaves = p.slaves ?? 0;
      const room = driver.capacity?.();
      if (room !== undefined && slaves + 1 > room) {
        throw new AppError('WRONG_STATE', `startup: a master and ${slaves} replica${slaves === 1 ? '' : 's'} need ${slaves + 1} hosts, ${room} free; join more hosts first (cps-mysql join-token, then cps-mysql agent join on each)`, { details: { free: room } });
      }
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
          pendingPassword: null,
        });
      }
      let params: ParamsByKind['startup'] = {};
      if (p.restore) {
        if (!deps.pitr) throw new AppError('WRONG_STATE', 'startup: this manager keeps no backups to restore from');
        // Checked whole before anything starts: a restore that cannot reach its target starts nothing.
        params = { restore: await deps.pitr.plan(p.restore) };
        requireState('startup');
      }
      return begin('startup', params, 'PROLOGUE', { desiredReplicas: slaves });
    },

    add_nodes: async (p) => {
      requireState('add_nodes');
      requireCloud('add_nodes', p.cloud);
      const count = p.slaves ?? 1;
      const room = driver.capacity?.();
      if (room !== undefined && count > room) {
        throw new AppError('WRONG_STATE', `add_nodes: ${count} more node${count === 1 ? '' : 's'} asked for, ${room} host${room === 1 ? '' : 's'} free; join more hosts first (cps-mysql join-token, then cps-mysql agent join on each)`, { details: { free: room } });
      }
      return begin('add_nodes', { replacement: false }, 'ADAPTING', { desiredReplicas: service().desiredReplicas + count });
    },

    remove_nodes: async (p) => {
      requireState('remove_nodes');
      const replicas = liveReplicas(store.nodes());
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
      return begin('remove_nodes', { ids }, 'ADAPTING', { desiredReplicas: Math.max(0, service().desiredReplicas - ids.length) }, () => {
        for (const id of ids) store.updateNode(id, { status: 'removing' });
      });
    },

    // From the in-memory view (issue #17): the loop reconciles the registry with the cloud every
    // monitoring round, so a node the cloud lost leaves the list within a round.
    list_nodes: async () => view.nodeLists(),

    get_node_info: async (p) => {
      const id = nodeIdOf(p);
      const shown = view.info().nodes.find((n) => n.id === id);
      return { serviceNode: shown ?? nodeInfo(observer, nodeOrFail(id)) };
    },

    get_service_info: async () => view.info(),

    set_up_replica_master: async (p) => {
      requireState('set_up_replica_master');
      const n = nodeOrFail(nodeIdOf(p));
      const m = readyMaster();
      if (n.id === m.id) throw new AppError('INVALID_PARAMS', `set_up_replica_master: ${n.id} is already the master`);
      if (n.status !== 'ready') throw new AppError('WRONG_STATE', `set_up_replica_master: ${n.id} is ${n.status}, not ready`);
      return beginPlanned(planSwitchover(observer.latest, n, m, p.maxLagSeconds));
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

    get_service_performance: async (p) => servicePerformance(observer.counterHistory(), p.window ?? '1m'),

    get_performance_history: async () => performanceHistory(observer.counterHistory(), clock.now()),

    get_password: async () => service().password,

    set_password: async (p) => {
      requireState('set_password');
      const s = service();
      const user = p.user ?? s.user;
      if (user !== s.user) throw new AppError('INVALID_PARAMS', `set_password: the service's user is '${s.user}', not '${user.slice(0, 80)}'`);
      // Recorded for the loop, which sets it on the master when no other operation is under way.
      store.updateService({ pendingPassword: p.password });
      const deadline = clock.now() + deps.loopWaitMs;
      // Answered once the password is set and its operation ended, so a call that follows finds the service RUNNING.
      while (store.service()!.pendingPassword === p.password || store.operation()?.kind === 'set_password') {
        if (clock.now() >= deadline) {
          const op = store.operation();
          throw new AppError('TIMEOUT', `set_password: the new password is recorded and will be set ${op && op.kind !== 'set_password' ? `when ${op.kind} ends` : 'once the master answers'}; get_password answers the password in force`);
        }
        await loop.nextRound(Math.max(1, deadline - clock.now()));
      }
      if (store.service()!.password !== p.password) throw new AppError('BUSY', 'set_password: another set_password came after this one; its password is the one set');
      return { user };
    },

    sqldump: async (p) => {
      requireState('sqldump');
      const dump = await agents.for(readyMaster()).dump();
      // For MySQL and older MariaDB clients: without mariadb-dump's sandbox line (docs/protocol.md).
      const body = p.compatible === 'mysql' ? dump.pipe(withoutSandboxLine()).on('error', () => undefined) : dump;
      if (body !== dump) dump.on('error', (err) => body.destroy(err));
      return streamResult(body, { contentType: 'application/sql', filename: 'dump.sql' });
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
      return loadAndVerify({ store, agents }, readyMaster(), ctx.file, { user: s.user, password: s.password });
    },

    getLog: async (p) => {
      const log = await deps.readLog();
      return { log: p.format === 'json' ? log : readableLog(log) };
    },

    failover: async (p) => {
      requireState('failover');
      return beginPlanned(planFailover(store, p.serviceNodeId !== undefined ? nodeOrFail(p.serviceNodeId) : null, p.force === true));
    },

    retry: async () => {
      requireState('retry');
      const plan = planRetry(store, store.lastEndedOperation());
      return { ...beginPlanned(plan), kind: plan.kind };
    },

    set_failover: async (p) => {
      service();
      store.updateService({ failoverEnabled: p.enabled });
      store.addEvent(`automatic failover switched ${p.enabled ? 'on' : 'off'}`);
      loop.wake();
      return failoverInfo(store, deps.failoverChecks, clock.now());
    },

    acknowledge_failover: async () => {
      const s = service();
      if (s.failoverBlockedUntil !== null) store.addEvent('failover block lifted by an operator');
      store.updateService({ failoverBlockedUntil: null });
      loop.wake();
      return failoverInfo(store, deps.failoverChecks, clock.now());
    },
  };
}
