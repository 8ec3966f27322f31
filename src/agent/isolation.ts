import type { Engine } from '../engine/engine.js';
import type { Logger } from '../util/logger.js';
import type { AgentStateFile } from './agent-state.js';
import type { FenceOutcome } from './fence.js';

/** How a master's agent watches for being cut off (ms). */
export interface IsolationOptions {
  /** Silence of the manager after which the master checks whether it still reaches a replica. */
  leaseMs: number;
  /** How long a replica's server has to greet the master's agent. */
  probeMs: number;
  /** How often the agent looks. */
  intervalMs: number;
  /** The deadline given to the fence (read-only within it, else the server is killed). */
  fenceDeadlineMs: number;
}

/**
 * Defaults: the manager looks at every node every 500 ms, so 1 s without a look is two missed
 * looks; a failover on the other side of a partition needs at least about 3 s (replicas notice a
 * silent master after 2 s, then fence, choose and promote), so the isolated master is read-only,
 * or killed, before a replica is promoted (docs/failover.md, "A master cut off from everyone").
 */
export const ISOLATION_DEFAULTS: IsolationOptions = { leaseMs: 1000, probeMs: 250, intervalMs: 250, fenceDeadlineMs: 1000 };

/** What the watch knows at one look. */
export interface IsolationFacts {
  /** This node's role, as the agent keeps it. */
  role: 'master' | 'replica' | 'none';
  /** Fenced already (by a failover, or by itself). */
  fenced: boolean;
  /** Milliseconds since the manager last called this agent. */
  sinceManagerMs: number;
  /** The lease (IsolationOptions.leaseMs). */
  leaseMs: number;
  /** The server's rpl_semi_sync_master_wait_no_slave: the service has replicas; null when unknown (the server does not answer). */
  waitNoSlave: boolean | null;
  /** How many of the replicas connected to it greeted the agent; null when not asked yet. */
  replicasAnswering: number | null;
}

/**
 * Whether a master must fence itself, as a pure decision: only a master of a service with replicas
 * (`wait_no_slave` ON: a master alone commits alone, and is never fenced for being alone), not
 * fenced yet, that has not heard from the manager for the lease, and that reaches none of its
 * replicas. Then it is cut off from everyone: the other side may promote a replica, and a client
 * on its side must not find it writable. Either condition alone changes nothing: a manager that is
 * cut off, or replicas that are down while the manager looks, leave the master as it is.
 * Returns 'ask-replicas' when every other condition holds and the replicas were not asked yet.
 */
export function isolationVerdict(f: IsolationFacts): 'keep' | 'ask-replicas' | 'fence' {
  if (f.role !== 'master' || f.fenced || f.sinceManagerMs < f.leaseMs || f.waitNoSlave === false) return 'keep';
  if (f.replicasAnswering === null) return 'ask-replicas';
  return f.replicasAnswering === 0 ? 'fence' : 'keep';
}

/** What the watch acts through. */
export interface IsolationDeps {
  /** The node's server: its status (wait_no_slave), the replicas connected to it, its process. */
  engine: Pick<Engine, 'status' | 'connectedReplicas' | 'process'>;
  /** The agent's state: role and fence mark. */
  state: Pick<AgentStateFile, 'get'>;
  /** Where the fence is logged. */
  logger: Logger;
  /** Whether a MySQL server greets at host:port within ms (util/mysql-greeting.ts). */
  greets: (host: string, port: number, timeoutMs: number) => Promise<boolean>;
  /** Fences this node's server (fence.ts), with a deadline in ms. */
  fence: (deadlineMs: number) => Promise<FenceOutcome>;
}

/**
 * A master's agent that finds itself cut off from the manager and from every replica fences its
 * own server (read-only, or killed when it does not answer): commits wait for a replica's
 * acknowledgement already (`wait_no_slave` ON), and this ends them and makes the server refuse
 * writes, so a client on the master's side of a partition never finds two writable masters. The
 * manager unfences it when it is still the master once it sees it again (no failover happened).
 */
export class IsolationWatch {
  private lastManager = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Where the replicas serve, as the manager last said. */
  private knownReplicas: { host: string; port: number }[] = [];

  constructor(
    private readonly deps: IsolationDeps,
    private readonly options: IsolationOptions = ISOLATION_DEFAULTS,
  ) {}

  /** The manager called: the lease is renewed. */
  managerSeen(): void {
    this.lastManager = Date.now();
  }

  /** The manager renewed its lease, naming where the service's replicas serve (checked with those connected). */
  leaseRenewed(replicas: { host: string; port: number }[]): void {
    this.lastManager = Date.now();
    this.knownReplicas = replicas;
  }

  /** Starts looking every intervalMs. */
  start(): void {
    this.timer ??= setInterval(() => void this.look(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops looking. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One look; resolves to what it decided (a look still running makes this one 'keep'). */
  async look(): Promise<'keep' | 'fence'> {
    if (this.running) return 'keep';
    this.running = true;
    try {
      const { engine, state, logger } = this.deps;
      const st = state.get();
      const facts: IsolationFacts = { role: st.role, fenced: st.fenced, sinceManagerMs: Date.now() - this.lastManager, leaseMs: this.options.leaseMs, waitNoSlave: null, replicasAnswering: null };
      if (isolationVerdict(facts) === 'keep' || engine.process().state !== 'running') return 'keep';
      // The server's own view: whether the service has replicas, and which are connected to it.
      let replicas: { host: string; port: number }[] = [];
      try {
        facts.waitNoSlave = (await engine.status()).waitNoSlave;
        replicas = await engine.connectedReplicas();
      } catch {
        // A server that does not answer its agent acknowledges nothing either; fencing it is right.
      }
      if (isolationVerdict(facts) === 'keep') return 'keep';
      // Those the manager named (a replica whose replication is stopped is not connected, but
      // still shows that this side of the network is not cut off), and those connected.
      replicas = [...new Map([...this.knownReplicas, ...replicas].map((r) => [`${r.host}:${r.port}`, r])).values()];
      const answers = await Promise.all(replicas.map((r) => this.deps.greets(r.host, r.port, this.options.probeMs)));
      facts.replicasAnswering = answers.filter(Boolean).length;
      facts.sinceManagerMs = Date.now() - this.lastManager;
      if (isolationVerdict(facts) !== 'fence') return 'keep';
      logger.warn({ sinceManagerMs: facts.sinceManagerMs, replicas: replicas.length }, 'cut off from the manager and from every replica: fencing this master');
      const outcome = await this.deps.fence(this.options.fenceDeadlineMs);
      logger.warn({ outcome }, 'fenced this master (cut off)');
      return 'fence';
    } finally {
      this.running = false;
    }
  }
}
