import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import type { AgentStatus, Counters } from '../protocol/agent-api.js';
import type { CloudDriver } from './ports.js';
import type { StateStore, NodeRecord } from '../store/store.js';
import type { NodeView, OperationKind, Snapshot } from './core/model.js';
import type { CounterPair } from './core/performance.js';
import type { AgentClients } from './agents.js';
import type { Logger } from '../util/logger.js';

export interface NodeObservation {
  status: AgentStatus | null;
  lastSeen: string | null;
  error: string | null;
  /** Consecutive checks in which neither the agent nor the SQL port answered well. */
  failedChecks: number;
  counters: { prev: Counters | null; cur: Counters | null };
}

export interface ObserverOptions {
  /** Counters are sampled at most this often, so rates span a whole monitoring interval. */
  counterIntervalMs: number;
  /** Failed checks in a row before the master counts as unreachable. */
  failoverChecks: number;
  /** Seconds an automatic failover blocks the next one. */
  failoverBlockSeconds: number;
  /**
   * Fault injection for tests: a JSON file `{"unreachable": ["node-1"]}` naming nodes the
   * manager must treat as unreachable (its calls to them fail), read at every round.
   */
  faultsFile?: string;
}

/** How long a poll of one agent may take before the node counts as unreachable. */
const POLL_TIMEOUT_MS = 1500;
const SQL_TIMEOUT_MS = 1000;

/** Gathers what the decision needs: the registry, the cloud's list, each agent's status and counters. */
export class Observer {
  private readonly seen = new Map<string, NodeObservation>();
  private lastCountersAt = 0;

  constructor(
    private readonly store: StateStore,
    private readonly driver: CloudDriver,
    private readonly agents: AgentClients,
    private readonly logger: Logger,
    private readonly options: ObserverOptions,
  ) {}

  observation(id: string): NodeObservation | null {
    return this.seen.get(id) ?? null;
  }

  /** True while the master has failed a check: the loop then looks again sooner. */
  get suspicious(): boolean {
    const m = this.store.nodes().find((n) => n.role === 'master' && n.status === 'ready');
    return m !== undefined && (this.seen.get(m.id)?.failedChecks ?? 0) > 0;
  }

  counterPairs(): Record<string, CounterPair> {
    const out: Record<string, CounterPair> = {};
    for (const n of this.store.nodes()) {
      const o = this.seen.get(n.id);
      if (o?.counters.prev && o.counters.cur && n.status === 'ready') out[n.id] = { role: n.role, prev: o.counters.prev, cur: o.counters.cur };
    }
    return out;
  }

  private injectedFaults(): Set<string> {
    if (!this.options.faultsFile) return new Set();
    try {
      const f = JSON.parse(readFileSync(this.options.faultsFile, 'utf8')) as { unreachable?: unknown };
      return new Set(Array.isArray(f.unreachable) ? f.unreachable.map(String) : []);
    } catch {
      return new Set();
    }
  }

  /** The manager's own SQL check of a master: connect as the service user and ping. */
  private async sqlAnswers(n: NodeRecord): Promise<boolean> {
    const s = this.store.service();
    if (!s || n.host === null || n.mysqlPort === null) return false;
    let c: mysql.Connection | null = null;
    try {
      c = await mysql.createConnection({ host: n.host, port: n.mysqlPort, user: s.user, password: s.password, connectTimeout: SQL_TIMEOUT_MS });
      await c.ping();
      return true;
    } catch {
      return false;
    } finally {
      c?.destroy();
    }
  }

  /** Polls every node with an address; records what each agent said. */
  async poll(nodes: NodeRecord[], withCounters: boolean): Promise<void> {
    const faults = this.injectedFaults();
    await Promise.all(
      nodes
        .filter((n) => n.host !== null && n.agentPort !== null)
        .map(async (n) => {
          const o: NodeObservation = this.seen.get(n.id) ?? { status: null, lastSeen: null, error: null, failedChecks: 0, counters: { prev: null, cur: null } };
          const client = this.agents.for(n);
          try {
            if (faults.has(n.id)) throw new Error('unreachable (fault injected)');
            o.status = await client.call('get_status', {}, { timeoutMs: POLL_TIMEOUT_MS });
            o.lastSeen = new Date().toISOString();
            o.error = null;
            if (withCounters && o.status.mysqld.state === 'running') {
              const ignoreUsers = [this.store.service()?.replUser ?? 'repl'];
              const c = await client.call('get_counters', { ignoreUsers }, { timeoutMs: POLL_TIMEOUT_MS });
              o.counters = { prev: o.counters.cur, cur: c };
            }
          } catch (err) {
            o.status = null;
            o.error = (err as Error).message;
          }
          const agentSaysUp = o.status !== null && o.status.mysqld.state === 'running';
          if (n.role === 'master' && n.status === 'ready') {
            // A master counts as failing only when both its agent and its SQL port fail the manager.
            const sqlUp = !faults.has(n.id) && (agentSaysUp || (await this.sqlAnswers(n)));
            const up = agentSaysUp || sqlUp;
            o.failedChecks = up ? 0 : o.failedChecks + 1;
            if (!up) this.logger.warn({ node: n.id, failedChecks: o.failedChecks, agent: o.error ?? o.status?.mysqld.state }, 'master check failed');
          } else {
            o.failedChecks = agentSaysUp ? 0 : o.failedChecks + 1;
          }
          this.seen.set(n.id, o);
        }),
    );
    for (const id of [...this.seen.keys()]) if (!nodes.some((n) => n.id === id)) this.seen.delete(id);
  }

  /** A fresh snapshot: the cloud's list, a poll of every agent, the registry and the operation. */
  async snapshot(): Promise<Snapshot> {
    const withCounters = Date.now() - this.lastCountersAt >= this.options.counterIntervalMs * 0.9;
    if (withCounters) this.lastCountersAt = Date.now();
    const live = await this.driver.listNodes();
    const liveIds = new Set(live.map((n) => n.id));
    await this.poll(this.store.nodes().filter((n) => liveIds.has(n.id)), withCounters);
    // The registry, the service and the operation are read together, after the awaits, so the
    // decision never mixes an operation with a registry from before it was recorded.
    const { nodes, service, op } = this.store.atomically(() => ({ nodes: this.store.nodes(), service: this.store.service(), op: this.store.operation() }));
    const byAddress = new Map(nodes.filter((n) => n.host !== null).map((n) => [`${n.host}:${n.mysqlPort}`, n.id]));
    const known = new Set(nodes.map((n) => n.id));
    const views: NodeView[] = nodes.map((n) => {
      const o = this.seen.get(n.id);
      const st = liveIds.has(n.id) ? (o?.status ?? null) : null;
      const r = st?.replication ?? null;
      return {
        id: n.id,
        role: n.role,
        status: n.status,
        serverId: n.serverId,
        alive: liveIds.has(n.id),
        reachable: st !== null,
        mysqlRunning: st?.mysqld.state === 'running',
        readOnly: st?.readOnly ?? null,
        replicatingFrom: r ? (byAddress.get(`${r.masterHost}:${r.masterPort}`) ?? `${r.masterHost}:${r.masterPort}`) : null,
        ioRunning: r?.ioRunning ?? null,
        sqlRunning: r?.sqlRunning ?? null,
        replicationError: r ? r.lastIoError || r.lastSqlError : '',
        gtidApplied: st?.gtid?.currentPos ?? null,
        gtidReceived: r?.gtidIoPos ?? null,
        // A node the cloud no longer lists fails every check.
        failedChecks: liveIds.has(n.id) ? (o?.failedChecks ?? 0) : Math.max(o?.failedChecks ?? 0, this.options.failoverChecks),
      };
    });
    return {
      state: service?.state ?? 'INIT',
      desiredReplicas: service?.desiredReplicas ?? 0,
      nextSeq: service?.nextSeq ?? 1,
      lastError: service?.error ?? null,
      operation: op ? { kind: op.kind as OperationKind, params: op.params, phase: op.phase, attempts: op.attempts } : null,
      nodes: views,
      unknownNodes: live.filter((n) => !known.has(n.id)).map((n) => n.id),
      failover: {
        enabled: service?.failoverEnabled ?? true,
        blockedUntil: service?.failoverBlockedUntil ? Date.parse(service.failoverBlockedUntil) : null,
        checks: this.options.failoverChecks,
      },
      now: Date.now(),
    };
  }
}
