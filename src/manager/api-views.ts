import type { FailoverInfo, ServiceInfo, ServiceNodeInfo } from '../protocol/manager-api.js';
import type { RecoverableWindow } from '../protocol/restore.js';
import type { NodeRecord, StateStore } from '../store/store.js';
import { masterOf } from './core/model.js';
import { nodeCondition } from './core/replicas.js';
import type { ManagerLoop } from './loop.js';
import type { Observer } from './observe.js';

/** The service's database user, as ConPaaS named it. */
export const DEFAULT_USER = 'mysqldb';
const EVENTS_SHOWN = 30;

/** What get_node_info answers for a node: its record and what the monitor last saw of it. */
export function nodeInfo(observer: Observer, n: NodeRecord): ServiceNodeInfo {
  const o = observer.observation(n.id);
  const latest = observer.latest;
  const condition = latest ? nodeCondition(latest, n.id) : { diagnosis: null, servesReads: false };
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
    ...condition,
  };
}

/** The failover settings as get_service_info shows them; a block in the past is none. `now`: ms since the epoch. */
export function failoverInfo(store: StateStore, checks: number, now: number): FailoverInfo {
  const s = store.service();
  const until = s?.failoverBlockedUntil ?? null;
  return { enabled: s?.failoverEnabled ?? true, blockedUntil: until !== null && Date.parse(until) > now ? until : null, checks };
}

/** What get_service_info answers. */
export function serviceInfo(deps: { store: StateStore; observer: Observer; loop: ManagerLoop; failoverChecks: number; now: number; recoverable: RecoverableWindow | null }): ServiceInfo {
  const { store, observer, loop } = deps;
  const s = store.service();
  const nodes = store.nodes();
  const m = masterOf(nodes);
  const op = store.operation();
  const infos = nodes.map((n) => nodeInfo(observer, n));
  return {
    state: s?.state ?? 'INIT',
    type: 'mysql',
    user: s?.user ?? DEFAULT_USER,
    master: m && m.status === 'ready' && m.host !== null ? `${m.host}:${m.mysqlPort}` : null,
    // Only replicas that can serve reads now are advertised as read endpoints.
    slaves: infos.filter((n) => n.role === 'replica' && n.status === 'ready' && n.servesReads).map((n) => `${n.ip}:${n.port}`),
    nodes: infos,
    desiredReplicas: s?.desiredReplicas ?? 0,
    operation: op ? { kind: op.kind, startedAt: op.startedAt, step: loop.current } : null,
    error: s?.error ?? null,
    events: store.events(EVENTS_SHOWN),
    failover: failoverInfo(store, deps.failoverChecks, deps.now),
    diagnosis: loop.lastDecision,
    recoverable: deps.recoverable ?? { from: null, until: null, secondsBehind: null },
  };
}
