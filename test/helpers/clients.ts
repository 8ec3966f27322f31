import mysql, { type Connection } from 'mysql2/promise';
import type { ServiceInfo } from '../../src/protocol/manager-api.js';
import { isAlive, sleep } from '../../src/util/proc.js';
import type { ManagerProcess } from './manager-process.js';

/** SIGKILLs the processes and waits until each is gone. */
export async function killAndWait(pids: number[]): Promise<void> {
  for (const p of pids) process.kill(p, 'SIGKILL');
  for (const p of pids) while (isAlive(p)) await sleep(5);
}

/** Samples every node's read_only through its agent; remembers the most nodes writable at once. */
export class WritableSampler {
  maxWritable = 0;
  everWritable = new Set<string>();
  private running = true;
  private done: Promise<void>;
  constructor(m: ManagerProcess, nodes: () => ServiceInfo['nodes']) {
    this.done = (async () => {
      while (this.running) {
        const ns = nodes();
        const writable = await Promise.all(
          ns.map(async (n) => {
            try {
              const s = await m.agent(n, 500).call('get_status', {});
              return s.mysqld.state === 'running' && s.readOnly === false ? n.id : null;
            } catch {
              return null;
            }
          }),
        );
        const ids = writable.filter((x): x is string => x !== null);
        for (const id of ids) this.everWritable.add(id);
        this.maxWritable = Math.max(this.maxWritable, ids.length);
        await sleep(30);
      }
    })();
  }
  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** A client inserting through HAProxy's write port, reconnecting on failure, recording every acknowledged id. */
export class Writer {
  acked: number[] = [];
  ackTimes: number[] = [];
  errorTimes: number[] = [];
  private running = true;
  private done: Promise<void>;
  constructor(port: number, password: string, table: string) {
    this.done = (async () => {
      let c: Connection | null = null;
      let id = 1;
      while (this.running) {
        try {
          c ??= await mysql.createConnection({ host: '127.0.0.1', port, user: 'mysqldb', password, connectTimeout: 2000 });
          await c.query(`INSERT INTO ${table} VALUES (?)`, [id]);
          this.acked.push(id);
          this.ackTimes.push(Date.now());
          id++;
        } catch {
          this.errorTimes.push(Date.now());
          c?.destroy();
          c = null;
          id++; // an unacknowledged id is never reused: it may or may not have committed
          await sleep(20);
        }
      }
      c?.destroy();
    })();
  }
  async waitForAcks(n: number, timeoutMs = 60_000): Promise<void> {
    const target = this.acked.length + n;
    const deadline = Date.now() + timeoutMs;
    while (this.acked.length < target) {
      if (Date.now() > deadline) throw new Error(`only ${this.acked.length} of ${target} writes acknowledged`);
      await sleep(20);
    }
  }
  firstAckAfter(t: number): number | null {
    return this.ackTimes.find((x) => x > t) ?? null;
  }
  /** The first write acknowledged after the first failure that followed `t`: an acknowledgement already on its way when the master died does not count. */
  firstAckAfterFailure(t: number): number | null {
    const failed = this.errorTimes.find((x) => x >= t);
    return failed === undefined ? null : this.firstAckAfter(failed);
  }
  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

