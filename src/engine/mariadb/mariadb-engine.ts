import { spawn } from 'node:child_process';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Engine, EngineCounters, EngineProcess, EngineSettings, EngineStatus, ReplicaSource } from '../engine.js';
import { AppError } from '../../util/errors.js';
import { TailBuffer, lastLines, run, sleep, spawnOutput, waitExit } from '../../util/proc.js';
import { BINLOG_INFO_FILES, parseBinlogInfo } from './binlog-info.js';
import { layoutOf, type Layout } from './layout.js';
import { DEFAULT_INSTANCE_SETTINGS, renderMyCnf } from './my-cnf.js';
import { MariadbProcess } from './process.js';
import { programs } from './programs.js';
import { connect, withConnection } from './sql.js';
import * as sql from './statements.js';

export interface MariadbEngineOptions {
  /** The agent's directory; every file of the instance lives below it. */
  dir: string;
  host: string;
  port: number;
  /** How long a start may take (crash recovery included). */
  startTimeoutMs?: number;
  /** How long a graceful stop may take before SIGKILL. */
  stopTimeoutMs?: number;
  /** Copy threads of `mariadb-backup`. */
  backupParallel?: number;
}

/** Marks a data directory that was completely initialised or restored. */
const READY_MARKER = 'initialized';

export class MariadbEngine implements Engine {
  readonly host: string;
  readonly port: number;
  private readonly layout: Layout;
  private readonly proc: MariadbProcess;
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly backupParallel: number;

  constructor(options: MariadbEngineOptions) {
    this.layout = layoutOf(options.dir);
    this.host = options.host;
    this.port = options.port;
    this.proc = new MariadbProcess(this.layout);
    this.startTimeoutMs = options.startTimeoutMs ?? 120_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 60_000;
    this.backupParallel = options.backupParallel ?? 2;
  }

  private get marker(): string {
    return join(this.layout.root, READY_MARKER);
  }

  isInitialized(): boolean {
    return existsSync(this.marker);
  }

  adopt(): boolean {
    return this.isInitialized() && this.proc.adopt();
  }

  process(): EngineProcess {
    if (!this.isInitialized()) return { state: 'uninitialized', pid: null, lastExit: null };
    return { state: this.proc.currentState(), pid: this.proc.pid, lastExit: this.proc.lastExit };
  }

  private async prepareDirs(): Promise<void> {
    for (const d of [this.layout.root, this.layout.run, this.layout.logDir, this.layout.tmp]) {
      await mkdir(d, { recursive: true, mode: 0o700 });
    }
  }

  private async writeConfig(settings: EngineSettings): Promise<void> {
    const text = renderMyCnf(this.layout, {
      host: this.host,
      port: this.port,
      serverId: settings.serverId,
      innodbBufferPoolSize: settings.innodbBufferPoolSize,
      maxConnections: settings.maxConnections,
      parallelReplicationThreads: DEFAULT_INSTANCE_SETTINGS.parallelReplicationThreads,
      slaveNetTimeout: DEFAULT_INSTANCE_SETTINGS.slaveNetTimeout,
      semiSyncTimeoutMs: settings.semiSyncTimeoutMs,
    });
    await writeFile(this.layout.cnf, text, { mode: 0o600 });
  }

  async initialize(settings: EngineSettings): Promise<void> {
    if (this.isInitialized()) return;
    await this.prepareDirs();
    await rm(this.layout.data, { recursive: true, force: true });
    await this.writeConfig(settings);
    await run(programs.installDb, [
      `--defaults-file=${this.layout.cnf}`,
      '--user=root',
      '--skip-test-db',
      '--auth-root-authentication-method=socket',
      `--datadir=${this.layout.data}`,
    ]);
    await writeFile(this.marker, `${new Date().toISOString()}\n`, { mode: 0o600 });
  }

  async start(settings: EngineSettings): Promise<void> {
    if (!this.isInitialized()) throw new AppError('WRONG_STATE', 'the server is not initialized: call init_server first');
    if (this.proc.pid !== null && this.proc.currentState() === 'running') return;
    await this.prepareDirs();
    await this.writeConfig(settings);
    this.proc.spawn();
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      this.proc.assertStarting();
      try {
        await withConnection(this.layout.socket, sql.ping);
        this.proc.markRunning();
        return;
      } catch {
        if (Date.now() > deadline) {
          await this.proc.stop(this.stopTimeoutMs);
          throw new AppError('TIMEOUT', `mariadbd did not accept connections within ${this.startTimeoutMs} ms: ${this.proc.errorLogTail()}`);
        }
        await sleep(50);
      }
    }
  }

  async stop(): Promise<void> {
    await this.proc.stop(this.stopTimeoutMs);
  }

  private async sql<T>(fn: (c: Awaited<ReturnType<typeof connect>>) => Promise<T>): Promise<T> {
    const state = this.process().state;
    if (state !== 'running') throw new AppError('WRONG_STATE', `mariadbd is not running (state: ${state})`);
    return withConnection(this.layout.socket, fn);
  }

  status(): Promise<EngineStatus> {
    return this.sql(sql.readStatus);
  }

  ensureReplicationUser(user: string, password: string): Promise<void> {
    return this.sql((c) => sql.ensureReplicationUser(c, user, password));
  }

  async configureReplica(source: ReplicaSource, gtidSlavePos?: string): Promise<void> {
    await this.sql(async (c) => {
      const now = await sql.readStatus(c);
      const r = now.replication;
      const same =
        gtidSlavePos === undefined &&
        r !== null &&
        r.masterHost === source.host &&
        r.masterPort === source.port &&
        r.masterUser === source.user &&
        r.sqlRunning === 'Yes' &&
        r.ioRunning !== 'No' &&
        now.readOnly;
      if (same) return;
      await sql.changeMaster(c, source, gtidSlavePos);
    });
  }

  stopReplicaIo(): Promise<void> {
    return this.sql(sql.stopReplicaIo);
  }

  promote(): Promise<void> {
    return this.sql(sql.promote);
  }

  setReadOnly(readOnly: boolean): Promise<void> {
    return this.sql((c) => sql.setReadOnly(c, readOnly));
  }

  setUserPassword(user: string, password: string): Promise<void> {
    return this.sql((c) => sql.setUserPassword(c, user, password));
  }

  waitForGtid(gtid: string, timeoutSeconds: number): Promise<boolean> {
    return this.sql((c) => sql.waitForGtid(c, gtid, timeoutSeconds));
  }

  counters(ignoreUsers: readonly string[]): Promise<EngineCounters> {
    return this.sql((c) => sql.readCounters(c, ignoreUsers));
  }

  snapshotStream(): Readable {
    if (this.process().state !== 'running') throw new AppError('WRONG_STATE', `mariadbd is not running (state: ${this.process().state})`);
    return spawnOutput(programs.backup, [
      `--defaults-file=${this.layout.cnf}`,
      '--backup',
      '--stream=xbstream',
      `--parallel=${this.backupParallel}`,
      // The log-copy thread looks for new redo every 10 ms instead of every second: commits
      // stall while the backup waits for it, so this shortens the pause writers see.
      '--log-copy-interval=10',
      '--user=root',
      `--socket=${this.layout.socket}`,
    ]).stream;
  }

  async restoreSnapshot(stream: Readable, settings: EngineSettings): Promise<{ gtid: string; bytes: number }> {
    if (this.isInitialized()) throw new AppError('WRONG_STATE', 'this node already holds a data directory: a snapshot is restored only into a new node');
    await this.prepareDirs();
    await this.writeConfig(settings);
    const staging = join(this.layout.tmp, 'restore');
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true, mode: 0o700 });
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    const child = spawn(programs.mbstream, ['-x', `--parallel=${this.backupParallel}`, '-C', staging], { stdio: ['pipe', 'ignore', 'pipe'] });
    const err = new TailBuffer();
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const exited = waitExit(child);
    try {
      await pipeline(stream, counter, child.stdin);
    } catch (e) {
      child.kill('SIGKILL');
      await exited.catch(() => undefined);
      await rm(staging, { recursive: true, force: true });
      throw new AppError('PEER_FAILED', `the snapshot stream broke after ${bytes} bytes: ${(e as Error).message}`, { cause: e });
    }
    const exit = await exited;
    if (exit.code !== 0) {
      await rm(staging, { recursive: true, force: true });
      throw new AppError('ENGINE_FAILED', `mbstream failed after ${bytes} bytes: ${lastLines(err.text(), 4)}`);
    }
    if (!existsSync(join(staging, 'xtrabackup_checkpoints'))) {
      await rm(staging, { recursive: true, force: true });
      throw new AppError('PEER_FAILED', `the snapshot is incomplete (${bytes} bytes, no checkpoint file)`);
    }
    await run(programs.backup, [`--defaults-file=${this.layout.cnf}`, '--prepare', `--target-dir=${staging}`, '--use-memory=256M']);
    const gtid = readBackupGtid(staging);
    await rm(this.layout.data, { recursive: true, force: true });
    await rename(staging, this.layout.data);
    await writeFile(this.marker, `${new Date().toISOString()} restored at ${gtid}\n`, { mode: 0o600 });
    await this.start(settings);
    return { gtid, bytes };
  }

  async dumpStream(): Promise<Readable> {
    const dbs = await this.sql(sql.userDatabases);
    if (dbs.length === 0) return Readable.from(['-- cps-mysql: the service holds no user database\n']);
    return spawnOutput(programs.dump, [
      `--defaults-file=${this.layout.cnf}`,
      '--user=root',
      `--socket=${this.layout.socket}`,
      '--single-transaction',
      '--gtid',
      '--routines',
      '--events',
      '--triggers',
      '--hex-blob',
      '--databases',
      ...dbs,
    ]).stream;
  }

  async loadDump(file: string): Promise<void> {
    if (this.process().state !== 'running') throw new AppError('WRONG_STATE', `mariadbd is not running (state: ${this.process().state})`);
    await run(programs.client, [`--defaults-file=${this.layout.cnf}`, '--user=root', `--socket=${this.layout.socket}`, '--batch', '--binary-mode'], {
      stdin: createReadStream(file),
    });
  }
}

function readBackupGtid(dir: string): string {
  for (const name of BINLOG_INFO_FILES) {
    const path = join(dir, name);
    if (existsSync(path)) return parseBinlogInfo(readFileSync(path, 'utf8'));
  }
  return '';
}
