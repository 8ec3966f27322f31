import type { AgentStatus, Counters } from '../protocol/agent-api.js';
import type { CloudDriver } from '../cloud/driver.js';
import type { StateStore, NodeRecord } from '../store/store.js';
import type { Logger } from '../util/logger.js';
import { messageOf } from '../util/errors.js';
import { sleep } from '../util/proc.js';
import type { AgentDirectory } from './agent-port.js';
import type { Clock } from './clock.js';
import { formatGtidPosition, laterOf, parseGtidPosition, type GtidPosition } from '../protocol/gtid.js';
import { masterOf, type NodeView, type Snapshot } from './core/model.js';
import type { CounterHistory } from './core/performance.js';
import { diagnoseReplica } from './core/replicas.js';

/** What the monitor last learnt of one node. */
export interface NodeObservation {
  /** The agent's last answer, or null when it did not answer. */
  status: AgentStatus | null;
  /** When the agent last answered (ISO time), or null. */
  lastSeen: string | null;
  /** Why the last poll failed, or null. */
  error: string | null;
  /** Consecutive checks in which neither the agent nor the server answered well. */
  failedChecks: number;
  /** Consecutive snapshots in which this replica's diagnosis named a trouble (not healthy, not merely lagging). */
  troubleChecks?: number;
  /** The node's counter samples, oldest first, over the last COUNTER_HISTORY_MS (the performance windows). */
  counters: Counters[];
}

/** How long (ms) counter samples are kept: the longest performance window (15 minutes) and a minute more. */
export const COUNTER_HISTORY_MS = 16 * 60_000;

/**
 * How long (ms) a look waits on a node that did not answer the previous one (its agent, and the
 * probe of its server): long enough for a node that is back to answer on a LAN, short enough that
 * a host that is gone costs each step of a failover little.
 */
export const SILENT_NODE_WAIT_MS = 250;

/** Whether a MySQL server answers at an address within a time (ms): the manager's check of a master whose agent is silent. */
export type LivenessProbe = (host: string, port: number, timeoutMs: number) => Promise<boolean>;

/** The observer's settings. */
export interface ObserverOptions {
  /** Counters are sampled at most this often (ms), so rates span a whole monitoring interval. */
  counterIntervalMs: number;
  /** Failed checks in a row before the master counts as unreachable. */
  failoverChecks: number;
  /** Seconds an automatic failover blocks the next one. */
  failoverBlockSeconds: number;
  /** How long (ms) a poll of one agent may take before the node counts as unreachable. */
  pollTimeoutMs: number;
  /** How long (ms) the manager waits for a master's server to greet it when the agent is silent. */
  probeTimeoutMs: number;
}

/** What the observer looks through. */
export interface ObserverDeps {
  /** The registry and the service. */
  store: StateStore;
  /** The cloud's list of nodes. */
  driver: CloudDriver;
  /** The nodes' agents. */
  agents: AgentDirectory;
  /** The check of a master whose agent is silent. */
  probe: LivenessProbe;
  /** The time of each snapshot. */
  clock: Clock;
  /** Where failed checks are logged. */
  logger: Logger;
}

/** Gathers what the decision needs: the registry, the cloud's list, each agent's status and counters. */
export class Observer {
  private readonly seen = new Map<string, NodeObservation>();
  private lastCountersAt = Number.NEGATIVE_INFINITY;
  /** GTID texts an agent sent that are not positions, logged once each. */
  private readonly badGtids = new Set<string>();
  private latestSnapshot: Snapshot | null = null;
  private changes = 0;
  /** Looks taken (snapshots) and agent polls that failed, since the manager started (the metrics' counters). */
  readonly checks = { looks: 0, pollErrors: 0 };
  /** Status calls still running, per node: a node that did not answer is not asked twice at once. */
  private readonly inflight = new Map<string, Promise<{ status: AgentStatus } | { error: string }>>();

  constructor(
    private readonly deps: ObserverDeps,
    private readonly options: ObserverOptions,
  ) {}

  /** Grows whenever what was seen changes (an answer, a node forgotten, a new snapshot): what an in-memory view compares. */
  get version(): number {
    return this.changes;
  }

  /** What was last seen of a node, or null. */
  observation(id: string): NodeObservation | null {
    return this.seen.get(id) ?? null;
  }

  /** True while the master has failed a check: the loop then looks again sooner. */
  get suspicious(): boolean {
    const m = masterOf(this.deps.store.nodes());
    return m !== undefined && m.status === 'ready' && (this.seen.get(m.id)?.failedChecks ?? 0) > 0;
  }

  /** Each ready node's counter samples, oldest first, for the performance windows. */
  counterHistory(): Record<string, CounterHistory> {
    const out: Record<string, CounterHistory> = {};
    for (const n of this.deps.store.nodes()) {
      const o = this.seen.get(n.id);
      if (o && o.counters.length >= 2 && n.status === 'ready') out[n.id] = { role: n.role, samples: o.counters };
    }
    return out;
  }

  /**
   * Asks a node's agent for its status. A node whose last check failed is waited on at most
   * `SILENT_NODE_WAIT_MS`: a host that is powered off or cut off answers nothing (no refusal
   * either), and waiting the whole poll timeout for it on every look would slow every step of the
   * failover that replaces it. Its call goes on in the background and is used when it ends.
   * Resolves to the status, an error, or null (no answer within the wait).
   */
  private async askStatus(n: NodeRecord, lastFailed: boolean): Promise<{ status: AgentStatus } | { error: string } | null> {
    let pending = this.inflight.get(n.id);
    if (!pending) {
      const call = this.deps.agents
        .for(n)
        .call('get_status', {}, { timeoutMs: this.options.pollTimeoutMs })
        .then((status) => ({ status }), (err: unknown) => ({ error: messageOf(err) }));
      pending = call;
      this.inflight.set(n.id, call);
      void call.then(() => this.inflight.delete(n.id));
    }
    if (!lastFailed) return pending;
    return Promise.race([pending, sleep(SILENT_NODE_WAIT_MS).then(() => null)]);
  }

  /** Polls every node with an address; records what each agent said. */
  async poll(nodes: NodeRecord[], withCounters: boolean): Promise<void> {
    const { agents, store, clock, logger } = this.deps;
    await Promise.all(
      nodes
        .filter((n) => n.host !== null && n.agentPort !== null)
        .map(async (n) => {
          const o: NodeObservation = this.seen.get(n.id) ?? { status: null, lastSeen: null, error: null, failedChecks: 0, counters: [] };
          const agent = agents.for(n);
          const lastFailed = o.status === null && o.error !== null;
          const answer = await this.askStatus(n, lastFailed);
          if (answer !== null && 'status' in answer) {
            o.status = answer.status;
            o.lastSeen = new Date(clock.now()).toISOString();
            o.error = null;
          } else {
            this.checks.pollErrors += 1;
            o.status = null;
            o.error = answer === null ? `no answer within ${SILENT_NODE_WAIT_MS} ms (it did not answer the last check either)` : answer.error;
          }
          // Counters are extra: a server that cannot give them (frozen, busy) keeps the status it gave.
          if (withCounters && o.status?.mysqld.state === 'running' && o.status.mysqld.answers !== false) {
            const ignoreUsers = [store.service()?.replUser ?? 'repl'];
            const c = await agent.call('get_counters', { ignoreUsers }, { timeoutMs: this.options.pollTimeoutMs }).catch(() => null);
            if (c) {
              o.counters.push(c);
              const keepFrom = Date.parse(c.at) - COUNTER_HISTORY_MS;
              while (o.counters.length > 2 && Date.parse(o.counters[0]!.at) < keepFrom) o.counters.shift();
            }
          }
          // A server that runs but does not answer its agent (frozen, overloaded) is not up.
          const agentSaysUp = o.status !== null && o.status.mysqld.state === 'running' && o.status.mysqld.answers !== false;
          if (n.role === 'master' && n.status === 'ready') {
            // A master counts as failing only when both its agent and its server fail the manager.
            // The server's port is probed when the agent is silent, and once when the agent says the
            // server runs but does not answer (a second opinion); an agent that says the process is
            // gone, or keeps saying it does not answer, is believed without waiting on a probe again.
            const processGone = o.status !== null && o.status.mysqld.state !== 'running';
            const probe = !agentSaysUp && !processGone && (o.status === null || o.failedChecks === 0) && n.mysqlPort !== null;
            const probeMs = lastFailed ? Math.min(SILENT_NODE_WAIT_MS, this.options.probeTimeoutMs) : this.options.probeTimeoutMs;
            const up = agentSaysUp || (probe && (await this.deps.probe(n.host!, n.mysqlPort!, probeMs)));
            o.failedChecks = up ? 0 : o.failedChecks + 1;
            if (!up) logger.warn({ node: n.id, failedChecks: o.failedChecks, agent: o.error ?? o.status?.mysqld.state }, 'master check failed');
          } else {
            o.failedChecks = agentSaysUp ? 0 : o.failedChecks + 1;
          }
          this.seen.set(n.id, o);
          this.changes++;
        }),
    );
    for (const id of [...this.seen.keys()]) if (!nodes.some((n) => n.id === id)) this.seen.delete(id);
    this.changes++;
  }

  /** A GTID position an agent reported, parsed here once; null (and a log line) for text that is not one. */
  private position(text: string | undefined | null): GtidPosition | null {
    if (text === undefined || text === null) return null;
    const p = parseGtidPosition(text);
    if (p === null && !this.badGtids.has(text)) {
      this.badGtids.add(text);
      this.deps.logger.warn({ gtid: text.slice(0, 100) }, 'an agent reported a GTID position that is not one');
    }
    return p;
  }

  /** A fresh snapshot: the cloud's list, a poll of every agent, the registry and the operation. */
  async snapshot(): Promise<Snapshot> {
    const { store, driver, clock } = this.deps;
    const withCounters = clock.now() - this.lastCountersAt >= this.options.counterIntervalMs * 0.9;
    if (withCounters) this.lastCountersAt = clock.now();
    const live = await driver.listNodes();
    const liveIds = new Set(live.map((n) => n.id));
    await this.poll(store.nodes().filter((n) => liveIds.has(n.id)), withCounters);
    this.record();
    // The registry, the service and the operation are read together, after the awaits, so the
    // decision never mixes an operation with a registry from before it was recorded.
    const { nodes, service, op } = store.atomically(() => ({ nodes: store.nodes(), service: store.service(), op: store.operation() }));
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
        mysqlRunning: st?.mysqld.state === 'running' && st.mysqld.answers !== false,
        mysqlSilent: st?.mysqld.state === 'running' && st.mysqld.answers === false,
        readOnly: st?.readOnly ?? null,
        waitNoSlave: st?.waitNoSlave ?? null,
        fenced: st?.fenced ?? null,
        replicatingFrom: r ? (byAddress.get(`${r.masterHost}:${r.masterPort}`) ?? `${r.masterHost}:${r.masterPort}`) : null,
        ioRunning: r?.ioRunning ?? null,
        sqlRunning: r?.sqlRunning ?? null,
        replicationError: r ? r.lastIoError || r.lastSqlError : '',
        gtidApplied: this.position(st?.gtid?.currentPos),
        gtidReceived: this.position(r?.gtidIoPos),
        gtidBinlog: this.position(st?.gtid?.binlogPos),
        gtidSlave: this.position(st?.gtid?.slavePos),
        receivedHigh: this.position(n.receivedGtid),
        lagSeconds: r?.secondsBehindMaster ?? null,
        ioErrno: r ? r.lastIoErrno : null,
        sqlErrno: r ? r.lastSqlErrno : null,
        repairs: n.repairs,
        troubleChecks: o?.troubleChecks ?? 0,
        // A node the cloud no longer lists fails every check.
        failedChecks: liveIds.has(n.id) ? (o?.failedChecks ?? 0) : Math.max(o?.failedChecks ?? 0, this.options.failoverChecks),
      };
    });
    let operation = null;
    if (op) {
      const { id: _id, startedAt: _at, ...rest } = op;
      operation = rest;
    }
    const snapshot: Snapshot = {
      state: service?.state ?? 'INIT',
      desiredReplicas: service?.desiredReplicas ?? 0,
      nextSeq: service?.nextSeq ?? 1,
      lastError: service?.error ?? null,
      operation,
      nodes: views,
      unknownNodes: live.filter((n) => !known.has(n.id)).map((n) => n.id),
      failover: {
        enabled: service?.failoverEnabled ?? true,
        blockedUntil: service?.failoverBlockedUntil ? Date.parse(service.failoverBlockedUntil) : null,
        checks: this.options.failoverChecks,
        blockSeconds: this.options.failoverBlockSeconds,
      },
      passwordPending: (service?.pendingPassword ?? null) !== null,
      lastMasterPosition: this.position(service?.lastMasterGtid),
      outageSince: service?.outageSince ? Date.parse(service.outageSince) : null,
      now: clock.now(),
    };
    this.countTrouble(snapshot);
    this.latestSnapshot = snapshot;
    this.changes++;
    this.checks.looks += 1;
    return snapshot;
  }

  /**
   * Counts, per replica in service, the snapshots in a row whose diagnosis names a trouble, so a
   * costly repair (a replacement) waits until the trouble has lasted (core/idle.ts); the count is
   * written into the snapshot's views too.
   */
  private countTrouble(s: Snapshot): void {
    const master = masterOf(s.nodes);
    for (const v of s.nodes) {
      const o = this.seen.get(v.id);
      if (!o) continue;
      const d = v.role === 'replica' && v.status === 'ready' && master?.status === 'ready' ? diagnoseReplica(v, master.id).name : 'ReplicaHealthy';
      o.troubleChecks = d === 'ReplicaHealthy' || d === 'ReplicaLagging' ? 0 : (o.troubleChecks ?? 0) + 1;
      v.troubleChecks = o.troubleChecks;
    }
  }

  /** The last snapshot taken, or null before the first. */
  get latest(): Snapshot | null {
    return this.latestSnapshot;
  }

  /**
   * Records what must outlive the manager: the most each replica was seen to receive (per domain,
   * only ever up), and the master's binary log position while it serves.
   */
  private record(): void {
    const { store } = this.deps;
    const nodes = store.nodes();
    const service = store.service();
    for (const n of nodes) {
      const st = this.seen.get(n.id)?.status;
      if (!st) continue;
      if (n.role === 'replica' && st.replication) {
        const now = parseGtidPosition(st.replication.gtidIoPos);
        const before = this.position(n.receivedGtid) ?? [];
        if (now && now.length > 0) {
          const high = laterOf(before, now);
          if (formatGtidPosition(high) !== (n.receivedGtid ?? '')) store.updateNode(n.id, { receivedGtid: formatGtidPosition(high) });
        }
      }
      if (service && n.role === 'master' && n.status === 'ready' && st.mysqld.answers !== false && st.gtid && st.gtid.binlogPos !== '' && st.gtid.binlogPos !== service.lastMasterGtid) {
        store.updateService({ lastMasterGtid: st.gtid.binlogPos });
      }
    }
  }
}
