import { decide } from './core/decide.js';
import type { Decision } from './core/model.js';
import type { Executor } from './execute.js';
import type { Observer } from './observe.js';
import type { StateStore } from '../store/store.js';
import type { Logger } from '../util/logger.js';
import { messageOf } from '../util/errors.js';

/** Milliseconds between checks while the master is suspected. */
const SUSPECT_RECHECK_MS = 150;

export interface LoopOptions {
  /** Milliseconds between monitoring rounds when there is nothing to do. */
  intervalMs: number;
  /** Milliseconds to wait before trying a failed step again. */
  retryDelayMs?: number;
}

/**
 * The only timer of the manager: observe, decide, take at most one step, and again. The API
 * records intent and wakes it; it is the loop that acts.
 */
export class ManagerLoop {
  private stopped = false;
  private wakeUp: (() => void) | null = null;
  /** A wake-up that came while the loop was busy: the next pause is skipped. */
  private pendingWake = false;
  private running: Promise<void> | null = null;
  private lastIdleReason: string | null = null;
  /** The step under way, in words, for progress reports. */
  current: string | null = null;
  /** The last decision, in words, whether or not it acted. */
  lastDecision: string | null = null;

  constructor(
    private readonly store: StateStore,
    private readonly observer: Observer,
    private readonly executor: Executor,
    private readonly logger: Logger,
    private readonly options: LoopOptions,
  ) {}

  start(): void {
    this.running ??= this.run();
  }

  wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.pendingWake = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.running;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let decision: Decision;
      try {
        const snapshot = await this.observer.snapshot();
        decision = decide(snapshot);
      } catch (err) {
        this.logger.error({ err: messageOf(err) }, 'observation failed');
        await this.pause(this.options.intervalMs);
        continue;
      }
      this.lastDecision = decision.reason;
      if (!decision.step) {
        this.current = null;
        if (decision.reason !== this.lastIdleReason) {
          this.logger.info({ decision: decision.reason }, 'idle');
          if (decision.notable) this.store.addEvent(decision.reason);
          this.lastIdleReason = decision.reason;
        }
        // A master that failed a check is looked at again soon, so a real failure is confirmed fast.
        await this.pause(this.observer.suspicious ? Math.min(SUSPECT_RECHECK_MS, this.options.intervalMs) : this.options.intervalMs);
        continue;
      }
      this.lastIdleReason = null;
      await this.take(decision);
    }
  }

  /** Records the step before it runs, runs it, and records how it ended. */
  private async take(decision: Decision): Promise<void> {
    const step = decision.step!;
    this.current = decision.reason;
    const entry = this.store.journal(step.kind, step as unknown as Record<string, unknown>);
    this.store.addEvent(decision.reason);
    this.logger.info({ step: step.kind, decision: decision.reason }, 'step');
    try {
      await this.executor.run(step);
      this.store.journalOutcome(entry, 'done');
    } catch (err) {
      const message = messageOf(err);
      this.store.journalOutcome(entry, `failed: ${message}`);
      this.logger.warn({ step: step.kind, err: message }, 'step failed');
      const op = this.store.operation();
      this.store.atomically(() => {
        if (op) this.store.updateOperation({ attempts: op.attempts + 1 });
        this.store.updateService({ error: `${step.kind} failed: ${message}` });
      });
      this.store.addEvent(`${step.kind} failed: ${message}`);
      await this.pause(this.options.retryDelayMs ?? 1000);
    }
  }

  private pause(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.pendingWake) {
      this.pendingWake = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = null;
        done();
      };
    });
  }
}
