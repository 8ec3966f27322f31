import type { Clock } from '../../src/manager/clock.js';

/**
 * Virtual time for the manager's unit tests: `now` moves only when the test advances it, and a
 * `sleep` ends when virtual time reaches its end (or its signal aborts it).
 */
export class FakeClock implements Clock {
  private readonly timers: Array<{ at: number; resolve: () => void }> = [];

  constructor(private t: number) {}

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = { at: this.t + ms, resolve };
      this.timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.timers.indexOf(timer);
          if (i >= 0) this.timers.splice(i, 1);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** Moves the clock forward, ending the sleeps that are due. */
  advance(ms: number): void {
    this.t += ms;
    for (const timer of this.timers.filter((x) => x.at <= this.t)) {
      this.timers.splice(this.timers.indexOf(timer), 1);
      timer.resolve();
    }
  }
}
