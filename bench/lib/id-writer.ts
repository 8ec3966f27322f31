import type { Connection } from './mysql.js';
import { rows, tcpConnect, withRoot } from './mysql.js';
import type { Endpoint } from './probe.js';
import { now, sleep } from './proc.js';

/**
 * A client inserting one row every `intervalMs` with an id of its own, recording which ids were
 * acknowledged and when (monotonic ms), and when an insert or a connection failed. On an error
 * it drops the connection, asks `locate` where to connect (HAProxy's write port, or wherever
 * the benchmark says the master now is) on the next tick, reconnects and goes on. An id that
 * was not acknowledged is never reused: it may or may not have committed.
 */
export class IdWriter {
  readonly acked: number[] = [];
  readonly ackTimes: number[] = [];
  readonly errorTimes: number[] = [];
  private nextId: number;
  private running = false;
  private loop: Promise<void> | null = null;
  private conn: Connection | null = null;
  private wake: () => void = () => undefined;
  private readonly stopping: Promise<void>;

  constructor(
    private readonly locate: () => Promise<Endpoint>,
    private readonly user: string,
    private readonly password: string,
    private readonly table: string,
    firstId: number,
    private readonly intervalMs = 10,
  ) {
    this.nextId = firstId;
    this.stopping = new Promise((r) => (this.wake = r));
  }

  /** Creates `db.table` through the master, as the service user. */
  static async prepare(at: Endpoint, user: string, password: string, table: string): Promise<void> {
    const [db] = table.split('.');
    const c = await tcpConnect(at.host, at.port, user, password);
    try {
      await c.query(`CREATE DATABASE IF NOT EXISTS ${db!}`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${table} (id BIGINT PRIMARY KEY, at BIGINT NOT NULL) ENGINE=InnoDB`);
    } finally {
      c.destroy();
    }
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let next = now();
    while (this.running) {
      const id = this.nextId++;
      try {
        if (!this.conn) {
          // A locator may wait (for the promotion); stopping must not wait for it.
          const at = await Promise.race([this.locate(), this.stopping.then(() => null)]);
          if (!at || !this.running) break;
          this.conn = await tcpConnect(at.host, at.port, this.user, this.password);
        }
        await this.conn.query({ sql: `INSERT INTO ${this.table} (id, at) VALUES (?, ?)`, values: [id, Date.now()], timeout: 10_000 });
        this.ackTimes.push(now());
        this.acked.push(id);
      } catch {
        this.errorTimes.push(now());
        this.conn?.destroy();
        this.conn = null;
      }
      next += this.intervalMs;
      const wait = next - now();
      if (wait > 0) await sleep(wait);
      else next = now();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    this.conn?.destroy();
    this.conn = null;
  }

  /** Waits until writes have been acknowledged for `quietMs` with no error (the first connections may land nowhere). */
  async waitSteady(quietMs: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = now();
      const lastError = this.errorTimes[this.errorTimes.length - 1] ?? -Infinity;
      const firstAck = this.ackTimes[0] ?? Infinity;
      if (t - Math.max(lastError, firstAck) >= quietMs && this.ackTimes.some((a) => a > t - 100)) return;
      if (Date.now() > deadline) throw new Error(`writes not steady after ${timeoutMs} ms: ${this.acked.length} acknowledged, ${this.errorTimes.length} failed`);
      await sleep(20);
    }
  }

  firstAckAfter(t: number): number | null {
    return this.ackTimes.find((a) => a > t) ?? null;
  }

  firstErrorAfter(t: number): number | null {
    return this.errorTimes.find((e) => e > t) ?? null;
  }

  errorsBetween(from: number, to: number): number {
    return this.errorTimes.filter((e) => e >= from && e <= to).length;
  }
}

/** The ids among `ids` that `table` on the server behind `socket` (OS root) does not hold. */
export async function missingIds(socket: string, table: string, ids: readonly number[]): Promise<number[]> {
  const found = new Set<number>();
  await withRoot(socket, async (c) => {
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      for (const r of await rows(c, `SELECT id FROM ${table} WHERE id IN (?)`, [chunk])) found.add(Number(r['id']));
    }
  });
  return ids.filter((id) => !found.has(id));
}
