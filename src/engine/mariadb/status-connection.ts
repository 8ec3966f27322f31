import type { Connection } from 'mysql2/promise';
import { connect } from './sql.js';

/**
 * One connection to the server kept open for the reads the agent makes all the time (status,
 * counters, health): it is made once, not per read, so a flood of health checks or a server
 * whose `max_connections` are all taken by clients never stops the agent from seeing its server.
 * A failed read drops the connection; the next read makes a new one.
 */
export class StatusConnection {
  private conn: Promise<Connection> | null = null;

  constructor(
    private readonly socketPath: string,
    private readonly user: string,
  ) {}

  /** Runs `fn` on the kept connection. Throws what `fn` or the connection throws (ENGINE_FAILED). */
  async run<T>(fn: (c: Connection) => Promise<T>): Promise<T> {
    const pending = (this.conn ??= connect(this.socketPath, this.user));
    try {
      return await fn(await pending);
    } catch (err) {
      if (this.conn === pending) this.reset();
      throw err;
    }
  }

  /** Closes the connection (the server stopped, or a read failed). */
  reset(): void {
    const pending = this.conn;
    this.conn = null;
    pending?.then((c) => c.destroy()).catch(() => undefined);
  }
}
