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
  counters: { prev: Counters | null; cur: Counters | null };
}

/** How long a poll of one agent may take before the node counts as unreachable. */
const POLL_TIMEOUT_MS = 2000;

/** Gathers what the decision needs: the registry, the cloud's list, each agent's status and counters. */
export class Observer {
  private readonly seen = new Map<string, NodeObservation>();
  private lastCountersAt = 0;

  /** `counterIntervalMs`: counters are sampled at most this often, so rates span a whole monitoring interval. */
  constructor(
    private readonly store: StateStore,
    private readonly driver: CloudDriver,
    private readonly agents: AgentClients,
    private readonly logger: Logger,
    private readonly counterIntervalMs: number,
  ) {}

  observation(id: string): NodeObservation | null {
    return this.seen.get(id) ?? null;
  }

  counterPairs(): Record<string, CounterPair> {
    const out: Record<string, CounterPair> = {};
    for (const n of this.store.nodes()) {
      const o = this.seen.get(n.id);
      if (o?.counters.prev && o.counters.cur && n.status === 'ready') out[n.id] = { role: n.role, prev: o.counters.prev, cur: o.counters.cur };
    }
    return out;
  }

  /** Polls every node with an address; records what each agent said. */
  async poll(nodes: NodeRecord[], withCounters: boolean): Promise<void> {
    await Promise.all(
      nodes
        .filter((n) => n.host !== null && n.agentPort !== null)
        .map(async (n) => {
          const o: NodeObservation = this.seen.get(n.id) ?? { status: null, lastSeen: null, error: null, counters: { prev: null, cur: null } };
          const client = this.agents.for(n);
          try {
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
          this.seen.set(n.id, o);
        }),
    );
    for (const id of [...this.seen.keys()]) if (!nodes.some((n) => n.id === id)) this.seen.delete(id);
  }

  /** A fresh snapshot: the cloud's list, a poll of every agent, the registry and the operation. */
  async snapshot(): Promise<Snapshot> {
    const withCounters = Date.now() - this.lastCountersAt >= this.counterIntervalMs * 0.9;
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
      const st = liveIds.has(n.id) ? (this.seen.get(n.id)?.status ?? null) : null;
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
      };
    });
    if (!service) this.logger.debug('no service yet');
    return {
      state: service?.state ?? 'INIT',
      desiredReplicas: service?.desiredReplicas ?? 0,
      nextSeq: service?.nextSeq ?? 1,
      lastError: service?.error ?? null,
      operation: op ? { kind: op.kind as OperationKind, params: op.params, phase: op.phase, attempts: op.attempts } : null,
      nodes: views,
      unknownNodes: live.filter((n) => !known.has(n.id)).map((n) => n.id),
    };
  }
}
