import type { StateStore } from '../store/store.js';
import type { Logger } from '../util/logger.js';
import type { AgentDirectory } from './agent-port.js';

/**
 * Renews the manager's lease on the master every `intervalMs`, on a timer of its own, so a loop
 * busy with a long step (a snapshot, a repair waiting on a frozen agent) never lets the lease of a
 * master it can reach run out. Each renewal names where the replicas in the registry serve. A
 * renewal still in flight is not doubled. A master that hears neither this nor any replica for its
 * lease fences itself (agent/isolation.ts); failed renewals are the observer's business, not logged here.
 */
export class LeaseKeeper {
  private timer: NodeJS.Timeout | null = null;
  private inFlight = false;

  constructor(
    private readonly deps: { store: StateStore; agents: AgentDirectory; logger: Logger },
    private readonly intervalMs: number,
  ) {}

  /** Starts renewing. */
  start(): void {
    this.timer ??= setInterval(() => void this.renew(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops renewing. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One renewal (the timer's); resolves when it answered or failed. */
  async renew(): Promise<void> {
    if (this.inFlight) return;
    const nodes = this.deps.store.nodes();
    const master = nodes.find((n) => n.role === 'master' && n.status === 'ready' && n.host !== null && n.agentPort !== null);
    if (!master) return;
    const replicas = nodes.filter((n) => n.role === 'replica' && n.host !== null && n.mysqlPort !== null).map((n) => ({ host: n.host!, port: n.mysqlPort! }));
    this.inFlight = true;
    try {
      await this.deps.agents.for(master).call('renew_lease', { replicas }, { timeoutMs: Math.max(500, this.intervalMs * 2) });
    } catch {
      // Unreachable: the observer sees it too, and decides.
    } finally {
      this.inFlight = false;
    }
  }
}
