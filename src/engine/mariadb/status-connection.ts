import type { Connection } from 'mysql2/promise';
import { AppError } from '../../util/errors.js';
import { connect } from './sql.js';

/** How long (ms) a status read may take: a server slower than this counts as not answering. */
export const STATUS_DEADLINE_MS = 1000;

/**
 * One connection to the server kept open for the reads the agent makes all the time (status,
 * counters, health): it is made once, not per read, so a flood of health checks or a server
 * whose `max_connections` are all taken by clients never stops the agent from seeing its server.
 * A failed read drops the connection; the next read makes a new one. A read that misses its
 * deadline is left to finish on its own: until it does (the server wakes up, or is killed), every
 * read fails at once with TIMEOUT instead of waiting out another deadline, so a frozen server
 * costs the agent's callers nothing after the first second.
 */
export class StatusConnection {
  private conn: Promise<Connection> | null = null;
  /** A read that missed its deadline and has not ended yet. */
  private stuck: Promise<unknown> | null = null;

  /** False while a read that missed its deadline is still waiting for the server. */
  get answering(): boolean {
    return this.stuck === null;
  }

  constructor(
    private readonly socketPath: string,
    private readonly user: string,
  ) {}

  /**
   * Runs `fn` on the kept connection, within `deadlineMs`: a server that does not answer in time
   * (frozen, overloaded) makes it throw TIMEOUT, and the connection is dropped. Throws what `fn`
   * or the connection throws otherwise (ENGINE_FAILED).
   */
  async run<T>(fn: (c: Connection) => Promise<T>, deadlineMs = STATUS_DEADLINE_MS): Promise<T> {
    if (this.stuck) throw new AppError('TIMEOUT', 'mariadbd has not answered an earlier read yet');
    const pending = (this.conn ??= connect(this.socketPath, this.user, deadlineMs));
    const attempt = pending.then(fn);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), deadlineMs);
    });
    let result: { value: T } | 'late';
    try {
      result = await Promise.race([attempt.then((value) => ({ value })), late]);
    } catch (err) {
      if (this.conn === pending) this.reset();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (result !== 'late') return result.value;
    // Left to end on its own; a failure then drops the connection.
    const stuck = attempt.then(
      () => undefined,
      () => {
        if (this.conn === pending) this.reset();
      },
    );
    this.stuck = stuck.finally(() => {
      if (this.stuck === guard) this.stuck = null;
    });
    const guard = this.stuck;
    throw new AppError('TIMEOUT', `mariadbd did not answer within ${deadlineMs} ms`);
  }

  /** Closes the connection (the server stopped, or a read failed). */
  reset(): void {
    const pending = this.conn;
    this.conn = null;
    this.stuck = null;
    pending?.then((c) => c.destroy()).catch(() => undefined);
  }
}
