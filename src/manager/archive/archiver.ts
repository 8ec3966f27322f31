import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import type { BinlogArchive } from '../../store/binlog-archive.js';
import { optionFileValue } from '../../util/option-file.js';
import type { Logger } from '../../util/logger.js';
import { TailBuffer, cmdlineOf, isAlive, lastLines } from '../../util/proc.js';
import { which } from '../../util/which.js';

/**
 * The server id the archiver's binary log connection announces (`--stop-never-slave-server-id`):
 * outside the nodes' ids (1, 2, …), so the master never confuses it with a replica.
 */
export const ARCHIVER_SERVER_ID = 4_000_000_001;

/** Seconds between the archive's recorded catch-ups written to its state. */
const STATE_EVERY_MS = 5000;

/** The master the archiver follows, with the replication account it reads with. */
export interface ArchiveSource {
  /** Its node id. */
  node: string;
  /** Its server's address. */
  host: string;
  /** Its server's port. */
  port: number;
  /** The replication account (REPLICATION SLAVE, BINLOG MONITOR). */
  user: string;
  /** Its password. */
  password: string;
}

/**
 * Continuous binary log archiving (issue #16, docs/backups.md): `mariadb-binlog
 * --read-from-remote-server --raw --stop-never` copies the master's binary log files, event by
 * event as the master sends them to replicas, into a segment of the archive. A new master (after a
 * switchover or a failover) gets a new segment, copied from its first binary log file; a restore
 * takes each transaction once, by GTID, across segments. `follow` is called on every look at the
 * service; the process is restarted when it ends (a master restarted, a network blip).
 */
export class BinlogArchiver {
  private child: ChildProcess | null = null;
  private source: ArchiveSource | null = null;
  private segment: { id: string; dir: string } | null = null;
  private conn: Connection | null = null;
  private lastStateWrite = 0;
  private caughtUpAt: number | null = null;
  private caughtUpGtid: string | null = null;
  private readonly program = which('mariadb-binlog');

  constructor(
    private readonly archive: BinlogArchive,
    /** A private directory for the connection's option file (mode 0600: it holds the password). */
    private readonly runDir: string,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The last moment (ms) the archive was seen to hold all the master wrote, with the master's GTID position then; null before. */
  get lastCatchUp(): { at: number; gtid: string } | null {
    return this.caughtUpAt !== null && this.caughtUpGtid !== null ? { at: this.caughtUpAt, gtid: this.caughtUpGtid } : null;
  }

  /**
   * Follows `source` (null: the service has no master in service, or nothing to archive for):
   * starts a segment and a copy for a new master, restarts a copy that ended, and records a
   * catch-up when the archive holds the master's whole binary log. Never throws: a failure is
   * logged and tried again at the next call.
   */
  async follow(source: ArchiveSource | null): Promise<void> {
    try {
      if (source === null) return;
      const same = this.source !== null && this.source.node === source.node && this.source.host === source.host && this.source.port === source.port;
      if (!same) {
        await this.stop();
        this.source = source;
        const { segment, dir } = await this.archive.begin(source.node, new Date(this.now()));
        this.segment = { id: segment.id, dir };
        this.logger.info({ segment: segment.id, master: source.node }, 'binary log archiving follows a new master');
      }
      if (!this.running()) await this.spawnCopy();
      await this.checkCaughtUp();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'binary log archiving: will try again');
      this.closeConn();
    }
  }

  /**
   * Waits until the archive holds everything the master wrote (`deadlineMs` at most), records it,
   * and stops copying: shutdown calls it once the master takes no more writes. Answers whether
   * the archive caught up, null when nothing was being archived.
   */
  async finish(deadlineMs: number): Promise<boolean | null> {
    if (this.source === null) return null;
    const end = this.now() + deadlineMs;
    let ok = false;
    while (this.source !== null && this.now() < end) {
      if (!this.running()) await this.spawnCopy().catch(() => undefined);
      ok = await this.checkCaughtUp(true).catch(() => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.stop();
    return ok;
  }

  /** Forgets the last catch-up (a restore began a new history: it was the old one's). */
  forgetCatchUp(): void {
    this.caughtUpAt = null;
    this.caughtUpGtid = null;
  }

  /** Stops copying (the segment stays as it is). */
  async stop(): Promise<void> {
    this.closeConn();
    const child = this.child;
    this.child = null;
    this.source = null;
    this.segment = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }

  private running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  private async spawnCopy(): Promise<void> {
    const source = this.source!;
    const segment = this.segment!;
    const files = (await this.archive.segments()).find((s) => s.id === segment.id)?.files ?? [];
    // Resumed from the last file copied (copied again from its start), else the master's first.
    const first = files.at(-1)?.name ?? (await this.masterFiles())[0];
    if (first === undefined) return;
    const cnf = join(this.runDir, 'archiver.cnf');
    writeFileSync(cnf, ['[client]', `user=${optionFileValue(source.user)}`, `password=${optionFileValue(source.password)}`, `host=${source.host}`, `port=${source.port}`, ''].join('\n'), { mode: 0o600 });
    const args = [`--defaults-extra-file=${cnf}`, '--read-from-remote-server', '--raw', '--stop-never', `--stop-never-slave-server-id=${ARCHIVER_SERVER_ID}`, `--result-file=${segment.dir}/`, first];
    this.reapStale(cnf);
    const child = spawn(this.program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    if (child.pid !== undefined) writeFileSync(join(this.runDir, 'archiver.pid'), `${child.pid}\n`, { mode: 0o600 });
    const err = new TailBuffer();
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.logger.warn({ code, signal, stderr: lastLines(err.text(), 2) }, 'binary log archiving stopped; restarting');
    });
    child.once('error', () => undefined);
    this.child = child;
  }

  /** Stops a copy an earlier manager of this directory left running (it was killed): by its recorded pid, if its command line is ours. */
  private reapStale(cnf: string): void {
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(join(this.runDir, 'archiver.pid'), 'utf8'), 10);
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 1 || pid === this.child?.pid || !isAlive(pid)) return;
    if (cmdlineOf(pid)?.some((a) => a === `--defaults-extra-file=${cnf}`)) process.kill(pid, 'SIGKILL');
  }

  private async connection(): Promise<Connection> {
    if (this.conn) return this.conn;
    const s = this.source!;
    // mysql2 is loaded by the first archive only: a manager without backups never holds it.
    const mysql = (await import('mysql2/promise')).default;
    this.conn = await mysql.createConnection({ host: s.host, port: s.port, user: s.user, password: s.password, connectTimeout: 2000 });
    this.conn.on('error', () => this.closeConn());
    return this.conn;
  }

  private closeConn(): void {
    this.conn?.destroy();
    this.conn = null;
  }

  private async masterFiles(): Promise<string[]> {
    const [rows] = await (await this.connection()).query('SHOW BINARY LOGS');
    return (rows as Array<{ Log_name: string }>).map((r) => r.Log_name);
  }

  /** True (and recorded) when the segment's copy of the master's current file is as long as the master's position. */
  private async checkCaughtUp(force = false): Promise<boolean> {
    if (!this.segment) return false;
    const conn = await this.connection();
    // The position first, then the file's length: the archive then holds at least that much.
    const [pos] = await conn.query('SELECT @@gtid_binlog_pos AS gtid');
    const gtid = String((pos as Array<{ gtid: string }>)[0]?.gtid ?? '');
    const [rows] = await conn.query('SHOW MASTER STATUS');
    const st = (rows as Array<{ File: string; Position: number }>)[0];
    if (!st) return false;
    const files = (await this.archive.segments()).find((s) => s.id === this.segment!.id)?.files ?? [];
    const copy = files.find((f) => f.name === st.File);
    if (!copy || copy.bytes < Number(st.Position)) return false;
    this.caughtUpAt = this.now();
    this.caughtUpGtid = gtid;
    if (force || this.now() - this.lastStateWrite >= STATE_EVERY_MS) {
      this.lastStateWrite = this.now();
      await this.archive.setState({ caughtUpAt: new Date(this.caughtUpAt).toISOString(), caughtUpGtid: gtid });
    }
    return true;
  }
}
