import type { ServiceInfo } from '../protocol/manager-api.js';
import { messageOf } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { sleep } from '../util/proc.js';
import { haproxyConfig, type HaproxyOptions } from './haproxy-config.js';
import type { HaproxyProcess } from './haproxy-process.js';

/** What the router works with. */
export interface RouterDeps {
  /** Asks the manager for the service (get_service_info). */
  fetchInfo: () => Promise<ServiceInfo>;
  /** The HAProxy it drives. */
  haproxy: Pick<HaproxyProcess, 'start' | 'reload' | 'stop'>;
  /** Where it says what it does. */
  logger: Logger;
}

/** The router's settings: HAProxy's ports, and how often it asks the manager. */
export interface RouterOptions extends HaproxyOptions {
  /** Milliseconds between two looks at the manager. */
  pollMs: number;
}

/** One change the router made: when, and which master writes go to now. */
export interface RouterChange {
  /** ms since the epoch. */
  at: number;
  /** The master the configuration names (null: none in service). */
  master: string | null;
  /** The nodes it names. */
  nodes: string[];
}

/**
 * Keeps an HAProxy following the service: it asks the manager every `pollMs`, and when what the
 * configuration would say changes (a node added, removed or replaced, a new master after a
 * switchover or failover) it loads the new configuration; sessions of the old one last 5 s at most (haproxy-config.ts).
 * Between two looks, HAProxy's own checks on the agents (`/primary`, `/replica?lag=`) already move
 * writes to a promoted replica and take broken replicas out of reads. A manager that does not
 * answer changes nothing: HAProxy keeps routing on its checks.
 */
export class Router {
  private config: string | null = null;
  private stopped = false;
  /** Ends the current pause between two looks (set while following). */
  private wake: (() => void) | null = null;
  private running: Promise<void> | null = null;
  /** Every configuration change, oldest first (what tests and the bench look at). */
  readonly changes: RouterChange[] = [];

  constructor(
    private readonly deps: RouterDeps,
    private readonly options: RouterOptions,
  ) {}

  /** Asks the manager until it answers (at most `timeoutMs`), starts HAProxy on that, then follows the service until `stop`. */
  async start(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let info: ServiceInfo | null = null;
    while (info === null) {
      try {
        info = await this.deps.fetchInfo();
      } catch (err) {
        if (Date.now() > deadline) throw err;
        this.deps.logger.warn({ err: messageOf(err) }, 'the manager does not answer yet');
        await sleep(this.options.pollMs);
      }
    }
    this.config = haproxyConfig(info, this.options);
    await this.deps.haproxy.start(this.config, { host: this.options.bind, port: this.options.writePort });
    this.record(info);
    this.running = this.follow();
  }

  /** Looks at the manager once; reloads HAProxy when the configuration changed. True when it did. */
  async refresh(): Promise<boolean> {
    let info: ServiceInfo;
    try {
      info = await this.deps.fetchInfo();
    } catch (err) {
      this.deps.logger.warn({ err: messageOf(err) }, 'the manager does not answer: routing stays as it is');
      return false;
    }
    const next = haproxyConfig(info, this.options);
    if (next === this.config) return false;
    try {
      await this.deps.haproxy.reload(next);
    } catch (err) {
      this.deps.logger.error({ err: messageOf(err) }, 'haproxy reload failed: routing stays as it was');
      return false;
    }
    this.config = next;
    this.record(info);
    return true;
  }

  private record(info: ServiceInfo): void {
    const master = info.nodes.find((n) => n.isMaster && n.status === 'ready')?.id ?? null;
    const nodes = info.nodes.filter((n) => n.ip !== '').map((n) => n.id);
    this.changes.push({ at: Date.now(), master, nodes });
    this.deps.logger.info({ master, nodes }, 'routing updated');
  }

  private async follow(): Promise<void> {
    while (!this.stopped) {
      // A pause that stop() cuts short: stopping never waits a whole poll interval.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
      if (!this.stopped) await this.refresh();
    }
  }

  /** Stops following (at once, not at the end of the poll interval), then stops HAProxy. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
    await this.deps.haproxy.stop();
  }
}
