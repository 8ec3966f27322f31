import { decide } from './core/decide.js';
import type { Decision, FailoverRefusal } from './core/model.js';
import type { Executor } from './execute/executor.js';
import type { Observer } from './observe.js';
import type { Clock } from './clock.js';
import type { StateStore } from '../store/store.js';
import type { Logger } from '../util/logger.js';
import { messageOf } from '../util/errors.js';

/** The loop's timing. */
export interface LoopOptions {
  /** Milliseconds between monitoring rounds when there is nothing to do. */
  intervalMs: number;
  /** Milliseconds to wait before trying a failed step again. */
  retryDelayMs: number;
  /** Milliseconds between checks while the master is suspected. */
  suspectRecheckMs: number;
}

/** What the loop works with. */
export interface LoopDeps {
  /** The service's records (journal, events). */
  store: StateStore;
  /** Takes the snapshot each round. */
  observer: Observer;
  /** Carries out the steps. */
  executor: Executor;
  /** Where decisions are logged. */
  logger: Logger;
  /** Time, for pauses and waits. */
  clock: Clock;
}

/** How one round ended: what was decided, and whether its step failed. */
export interface Round {
  /** What was decided; null when the observation failed. */
  decision: Decision | null;
  /** The step (or the observation) failed. */
  failed: boolean;
  /** After a failed step: the next decision takes the same step again (a retry, after `retryDelayMs`); false when it moves on at once (an abort, another candidate). */
  retry?: boolean;
}

/**
 * The only timer of the manager: observe, decide, take at most one step, and again. The API
 * records intent and wakes it; it is the loop that acts. `runOnce` is one round, what unit tests
 * drive over fakes; `start` runs rounds until `stop`.
 */
export class ManagerLoop {
  private stopped = false;
  private wakeUp: AbortController | null = null;
  /** A wake-up that came while the loop was busy: the next pause is skipped. */
  private pendingWake = false;
  private running: Promise<void> | null = null;
  private lastIdleReason: string | null = null;
  private roundsStarted = 0;
  private roundsEnded = 0;
  private readonly roundWaiters: Array<{ target: number; resolve: () => void }> = [];
  /** The step under way, in words, for progress reports. */
  current: string | null = null;
  /** The last decision, in words, whether or not it acted. */
  lastDecision: string | null = null;
  /** Failovers refused or held back since the manager started, by reason (each run of refusals once). */
  readonly refusals: Partial<Record<FailoverRefusal, number>> = {};
  /** The kind of the refusals under way, or null: a run of them is counted once. */
  private refusing: FailoverRefusal | null = null;

  /**
   * Counts a decision's refusal once per run: consecutive looks that refuse for the same reason
   * (watching or waiting in between included) are one; a look that finds nothing to refuse, or
   * that acts, ends the run.
   */
  private countRefusal(decision: Decision): void {
    if (!decision.refusal) {
      if (decision.step || !decision.notable) this.refusing = null;
      return;
    }
    if (decision.refusal === this.refusing) return;
    this.refusing = decision.refusal;
    this.refusals[decision.refusal] = (this.refusals[decision.refusal] ?? 0) + 1;
  }

  constructor(
    private readonly deps: LoopDeps,
    private readonly options: LoopOptions,
  ) {}

  /** Starts running rounds until `stop` (once). */
  start(): void {
    this.running ??= this.run();
  }

  /** Ends the current pause at once (the API recorded intent). */
  wake(): void {
    if (this.wakeUp) this.wakeUp.abort();
    else this.pendingWake = true;
  }

  /** Stops after the round under way; resolves when it has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.running;
    for (const w of this.roundWaiters.splice(0)) w.resolve();
  }

  /**
   * Waits until a round that begins after this call has ended (the loop is woken for it), at most
   * `timeoutMs`. Resolves true when it did, false on timeout. What the API uses to answer after
   * the loop has looked (list_nodes).
   */
  nextRound(timeoutMs: number): Promise<boolean> {
    const target = this.roundsStarted + 1;
    const reached = new Promise<boolean>((resolve) => this.roundWaiters.push({ target, resolve: () => resolve(true) }));
    this.wake();
    const timer = new AbortController();
    const late = this.deps.clock.sleep(timeoutMs, timer.signal).then(() => false);
    return Promise.race([reached, late]).finally(() => timer.abort());
  }

  /** One round: observe, decide, and take the decided step (recorded before it runs). */
  async runOnce(): Promise<Round> {
    this.roundsStarted++;
    try {
      return await this.round();
    } finally {
      this.roundsEnded = this.roundsStarted;
      for (const w of this.roundWaiters.filter((x) => x.target <= this.roundsEnded)) {
        this.roundWaiters.splice(this.roundWaiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  private async round(): Promise<Round> {
    let decision: Decision;
    try {
      decision = decide(await this.deps.observer.snapshot());
    } catch (err) {
      this.deps.logger.error({ err: messageOf(err) }, 'observation failed');
      return { decision: null, failed: true };
    }
    this.lastDecision = decision.reason;
    this.countRefusal(decision);
    if (!decision.step) {
      this.current = null;
      if (decision.reason !== this.lastIdleReason) {
        this.deps.logger.info({ decision: decision.reason }, 'idle');
        if (decision.notable) this.deps.store.addEvent(decision.reason);
        this.lastIdleReason = decision.reason;
      }
      return { decision, failed: false };
    }
    this.lastIdleReason = null;
    if (await this.take(decision)) return { decision, failed: false };
    return { decision, failed: true, retry: this.wouldRetry(decision.step.kind) };
  }

  /**
   * After a failed step: would the next decision take the same step again? Decided on the last
   * snapshot with the operation and error as the failure left them, so an operation that gives up
   * (a switchover holding writes blocked) or moves on (a failover's next candidate) does so at
   * once, and only a real retry waits.
   */
  private wouldRetry(kind: string): boolean {
    const s = this.deps.observer.latest;
    if (!s) return true;
    const { store } = this.deps;
    const op = store.operation();
    let operation = null;
    if (op) {
      const { id: _id, startedAt: _at, ...rest } = op;
      operation = rest;
    }
    return decide({ ...s, operation, lastError: store.service()?.error ?? s.lastError }).step?.kind === kind;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const round = await this.runOnce();
      const { decision, failed } = round;
      if (this.stopped) break;
      if (decision === null) await this.pause(this.options.intervalMs);
      else if (failed && round.retry !== false) await this.pause(this.options.retryDelayMs);
      // A master that failed a check is looked at again soon, so a real failure is confirmed fast.
      else if (!decision.step) await this.pause(this.deps.observer.suspicious ? Math.min(this.options.suspectRecheckMs, this.options.intervalMs) : this.options.intervalMs);
    }
  }

  /** Records the step before it runs, runs it, and records how it ended. True when it succeeded. */
  private async take(decision: Decision): Promise<boolean> {
    const { store, logger } = this.deps;
    const step = decision.step!;
    this.current = decision.reason;
    const entry = store.journal(step.kind, step as unknown as Record<string, unknown>);
    store.addEvent(decision.reason);
    logger.info({ step: step.kind, decision: decision.reason }, 'step');
    try {
      await this.deps.executor.run(decision);
      store.journalOutcome(entry, 'done');
      return true;
    } catch (err) {
      // The executor's error names the step: `catch_up failed: …`.
      const message = messageOf(err);
      store.journalOutcome(entry, `failed: ${messageOf(err instanceof Error && err.cause !== undefined ? err.cause : err)}`);
      logger.warn({ step: step.kind, err: message }, 'step failed');
      const op = store.operation();
      store.atomically(() => {
        if (op) store.updateOperation({ attempts: op.attempts + 1 });
        store.updateService({ error: message });
      });
      store.addEvent(message);
      return false;
    }
  }

  private async pause(ms: number): Promise<void> {
    if (this.stopped) return;
    if (this.pendingWake) {
      this.pendingWake = false;
      return;
    }
    this.wakeUp = new AbortController();
    await this.deps.clock.sleep(ms, this.wakeUp.signal);
    this.wakeUp = null;
  }
}
