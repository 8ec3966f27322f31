import type { Logger } from '../util/logger.js';

/**
 * Logs refused requests (401) without letting anyone who can reach the port grow the log: one
 * line at most per `intervalMs`, which says how many refusals it stands for.
 */
export class RefusalLog {
  private lastAt = Number.NEGATIVE_INFINITY;
  private unlogged = 0;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one refusal; writes a line when none was written in the last interval. */
  refused(details: { code: string; url: string }): void {
    this.unlogged++;
    const t = this.now();
    if (t - this.lastAt < this.intervalMs) return;
    this.log.warn({ ...details, refused: this.unlogged, sinceSeconds: Number.isFinite(this.lastAt) ? Math.round((t - this.lastAt) / 1000) : null }, 'requests refused: no valid credentials');
    this.lastAt = t;
    this.unlogged = 0;
  }
}
