import type { Connection } from './mysql.js';
import { tcpConnect } from './mysql.js';
import { now, sleep } from './proc.js';

export interface Endpoint {
  host: string;
  port: number;
}

/**
 * A client that inserts one row every `intervalMs` into the master and records when each
 * insert was acknowledged. The longest gap between two acknowledgements is how long writes
 * were blocked, as an application feels it. On an error it asks `locate` where the master is
 * now (a switchover moves it), reconnects and goes on.
 */
export class WriteProbe {
  readonly acks: number[] = [];
  errors = 0;
  private running = false;
  private loop: Promise<void> | null = null;
  private conn: Connection | null = null;

  constructor(
    private readonly locate: () => Promise<Endpoint>,
    private readonly user: string,
    private readonly password: string,
    private readonly intervalMs = 10,
  ) {}

  /** Creates the probe's table (through the master, as the service user). */
  static async prepare(at: Endpoint, user: string, password: string): Promise<void> {
    const c = await tcpConnect(at.host, at.port, user, password);
    try {
      await c.query('CREATE DATABASE IF NOT EXISTS benchprobe');
      await c.query('CREATE TABLE IF NOT EXISTS benchprobe.ticks (id BIGINT AUTO_INCREMENT PRIMARY KEY, at BIGINT NOT NULL) ENGINE=InnoDB');
    } finally {
      c.destroy();
    }
  }

  async start(): Promise<void> {
    const at = await this.locate();
    this.conn = await tcpConnect(at.host, at.port, this.user, this.password);
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let next = now();
    while (this.running) {
      try {
        if (!this.conn) {
          const at = await this.locate();
          this.conn = await tcpConnect(at.host, at.port, this.user, this.password);
        }
        await this.conn.query('INSERT INTO benchprobe.ticks (at) VALUES (?)', [Date.now()]);
        this.acks.push(now());
      } catch {
        this.errors++;
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
    await this.loop;
    this.conn?.destroy();
    this.conn = null;
  }

  /** The first acknowledgement after `t`, if any. */
  firstAckAfter(t: number): number | null {
    return this.acks.find((a) => a > t) ?? null;
  }

  /**
   * The longest time between two consecutive acknowledgements whose interval overlaps
   * [from, to], in ms. Writes blocked through the whole window show as one long gap.
   */
  maxGap(from: number, to: number): number {
    return this.gapsOver(from, to, 0)[0]?.ms ?? 0;
  }

  /**
   * Waits, checking every 250 ms, until the last second of acknowledgements holds no gap over
   * `quietMs` (the master is quiet: the previous step's tail — files deleted on a disk mounted
   * with `discard`, a new replica's catch-up — has passed), at least 1 s after the call and at
   * most `maxMs`. Returns how long it waited, ms, and whether it found the master quiet.
   */
  async untilQuiet(quietMs: number, maxMs = 10_000): Promise<{ waitedMs: number; quiet: boolean }> {
    const t0 = now();
    await sleep(1000);
    for (;;) {
      const t = now();
      if (this.maxGap(t - 1000, t) <= quietMs && (this.acks.at(-1) ?? 0) > t - quietMs) return { waitedMs: t - t0, quiet: true };
      if (t - t0 >= maxMs) return { waitedMs: t - t0, quiet: false };
      await sleep(250);
    }
  }

  /** The gaps longer than `minMs` that overlap [from, to]: where each began (`now()` ms) and how long it was, longest first. */
  gapsOver(from: number, to: number, minMs: number): Array<{ at: number; ms: number }> {
    const out: Array<{ at: number; ms: number }> = [];
    for (let i = 1; i < this.acks.length; i++) {
      const a = this.acks[i - 1]!;
      const b = this.acks[i]!;
      if (b >= from && a <= to && b - a > minMs) out.push({ at: a, ms: b - a });
    }
    return out.sort((x, y) => y.ms - x.ms);
  }

  /** Acknowledgements in [from, to]. */
  count(from: number, to: number): number {
    return this.acks.filter((a) => a >= from && a <= to).length;
  }
}
