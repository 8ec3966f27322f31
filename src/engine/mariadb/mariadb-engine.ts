import { existsSync } from 'node:fs';
import { chown, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import type { Connection } from 'mysql2/promise';
import { type Engine, type RestoreStage, type SnapshotInput, type RestoreTimings, type LoadResult, type EngineAccounts, type EngineCounters, type EngineProcess, type EngineSettings, type EngineStatus, type ReplicaSource } from '../engine.js';
import { AppError, isAppError } from '../../util/errors.js';
import { currentOsUser, type OsUser } from '../../util/os-user.js';
import { sleep } from '../../util/proc.js';
import { ensureAccount, ensureNodeAccounts } from './accounts.js';
import { replayBinlogFile } from './replay.js';
import { leaveMasterRole, takeMasterRole } from './master-role.js';
import { appUsersOn, OWN_ACCOUNTS } from './app-users.js';
import { replicationAccount, serviceAccount, socketAdminAccount } from './grants.js';
import { layoutOf, prepareInstanceDirs, type Layout } from './layout.js';
import { installDatadir, type DatadirTemplate } from './datadir-template.js';
import { hostTemplate } from './host-template.js';
import { dumpStream, loadDumpWhole, type Login, type ToolContext } from './logical.js';
import { INSTANCE_CONSTANTS, renderMyCnf, writeOptionFile } from './my-cnf.js';
import { MariadbProcess } from './process.js';
import { extractSnapshot, snapshotInto, snapshotStream } from './snapshot.js';
import { withConnection } from './sql.js';
import { StatusConnection } from './status-connection.js';
import { resumePosition, resumeReplication } from './resume-position.js';
import { DiskUsageCache } from './disk-usage.js';
import * as sql from './statements.js';

/** How a MariadbEngine is made. */
export interface MariadbEngineOptions {
  /** The agent's directory; every file of the instance lives below it. */
  dir: string;
  /** The address its server listens on. */
  host: string;
  /** The port its server listens on. */
  port: number;
  /**
   * The OS user `mariadbd`, `mariadb-dump`, `mariadb-backup` and the client run as (never root
   * when the agent is root: see util/os-user.ts). Default: this process's user.
   */
  dbUser?: OsUser;
  /** How long a start may take (crash recovery included). */
  startTimeoutMs?: number;
  /** How long a graceful stop may take before SIGKILL. */
  stopTimeoutMs?: number;
  /** Copy threads of `mariadb-backup`. */
  backupParallel?: number;
  /** Where the host keeps its data-directory template (datadir-template.ts); none: every server runs `mariadb-install-db`. */
  templateRoot?: string;
}

/** Marks a data directory that was completely initialised or restored. */
const READY_MARKER = 'initialized';

/**
 * The MariaDB engine of one node. The agent reaches its server through the socket as the
 * account named like its own OS user (`root` when it runs as root); MariaDB's programs run as
 * `dbUser` and log in as the account of that name, both authenticated by `unix_socket`.
 */
export class MariadbEngine implements Engine {
  readonly host: string;
  readonly port: number;
  private readonly layout: Layout;
  private readonly proc: MariadbProcess;
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly backupParallel: number;
  private readonly dbUser: OsUser;
  private readonly adminUser: string; // the agent's own account over the socket
  private readonly statusConn: StatusConnection;
  private readonly disk: DiskUsageCache;
  private readonly template: DatadirTemplate | null;

  constructor(options: MariadbEngineOptions) {
    this.layout = layoutOf(options.dir);
    this.host = options.host;
    this.port = options.port;
    const me = currentOsUser();
    this.dbUser = options.dbUser ?? me;
    this.adminUser = me.uid === 0 ? 'root' : me.name;
    this.proc = new MariadbProcess(this.layout);
    this.startTimeoutMs = options.startTimeoutMs ?? 120_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 60_000;
    this.backupParallel = options.backupParallel ?? 2;
    this.statusConn = new StatusConnection(this.layout.socket, this.adminUser);
    this.disk = new DiskUsageCache(this.layout.data); // read at most every 10 s
    // The template is made as an instance of its own (its own option file, log, socket, pid file).
    this.template = options.templateRoot ? hostTemplate(options.templateRoot, this.dbUser) : null;
  }

  get dbUserName(): string { return this.dbUser.name; }

  private get marker(): string {
    return join(this.layout.root, READY_MARKER);
  }

  private get tools(): ToolContext {
    return { layout: this.layout, dbUser: this.dbUser };
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

  private prepareDirs(): Promise<void> {
    return prepareInstanceDirs(this.layout, this.dbUser);
  }

  private configText(settings: EngineSettings): string {
    return renderMyCnf(this.layout, {
      host: this.host,
      port: this.port,
      serverId: settings.serverId,
      osUser: currentOsUser().uid === 0 ? this.dbUser.name : null,
      innodbBufferPoolSize: settings.innodbBufferPoolSize,
      maxConnections: settings.maxConnections,
      parallelReplicationThreads: INSTANCE_CONSTANTS.parallelReplicationThreads,
      slaveNetTimeout: INSTANCE_CONSTANTS.slaveNetTimeout,
      semiSyncTimeoutMs: settings.semiSyncTimeoutMs,
    });
  }

  private async writeConfig(settings: EngineSettings): Promise<void> {
    await writeOptionFile(this.layout.cnf, this.configText(settings));
  }

  async initialize(settings: EngineSettings): Promise<'copied' | 'made' | 'existing'> {
    if (this.isInitialized()) return 'existing';
    await this.prepareDirs();
    await rm(this.layout.data, { recursive: true, force: true });
    await this.writeConfig(settings);
    const how = this.template ? await this.template.fill(this.layout.data, this.layout.cnf) : (await installDatadir(this.layout.cnf, this.dbUser, this.layout.data), 'made' as const);
    await writeFile(this.marker, `${new Date().toISOString()}\n`, { mode: 0o600 });
    return how;
  }

  async prepareTemplate(): Promise<boolean> {
    if (!this.template || this.isInitialized()) return false;
    return this.template.prepare();
  }

  async start(settings: EngineSettings): Promise<void> {
    if (!this.isInitialized()) throw new AppError('WRONG_STATE', 'the server is not initialized: call init_server first');
    if (this.proc.pid !== null && this.proc.currentState() === 'running') return;
    await this.prepareDirs();
    await this.writeConfig(settings);
    this.statusConn.reset();
    this.proc.spawn(this.dbUser);
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      this.proc.assertStarting();
      try {
        await withConnection(this.layout.socket, this.adminUser, sql.ping);
        this.proc.markRunning();
        break;
      } catch {
        if (Date.now() > deadline) {
          await this.proc.stop(this.stopTimeoutMs);
          throw new AppError('TIMEOUT', `mariadbd did not accept connections within ${this.startTimeoutMs} ms: ${this.proc.errorLogTail()}`);
        }
        await sleep(50);
      }
    }
    // The account MariaDB's programs log in with, on servers made before it existed: this host's own, never replicated.
    if (this.dbUser.name !== this.adminUser) await this.sql((c) => ensureAccount(c, socketAdminAccount(this.dbUser.name), { binlog: false }));
    // A replica's replication starts here (skip_slave_start), from where its binary log stands; one
    // that cannot start now leaves the server running, its replication stopped (the manager repairs it).
    await this.sql(resumeReplication).catch(() => undefined);
  }

  async stop(graceMs = this.stopTimeoutMs): Promise<void> {
    this.statusConn.reset();
    await this.proc.stop(graceMs);
  }

  async wipe(): Promise<void> {
    await this.stop();
    for (const path of [this.marker, this.layout.data, join(this.layout.root, 'log'), this.layout.tmp]) await rm(path, { recursive: true, force: true });
  }

  serverAnswers(): boolean {
    return this.statusConn.answering;
  }

  async kill(): Promise<void> {
    this.statusConn.reset();
    await this.proc.stop(0);
  }

  private requireRunning(): void {
    const state = this.process().state;
    if (state !== 'running') throw new AppError('WRONG_STATE', `mariadbd is not running (state: ${state})`);
  }

  private async sql<T>(fn: (c: Connection) => Promise<T>): Promise<T> {
    this.requireRunning();
    return withConnection(this.layout.socket, this.adminUser, fn);
  }

  status(): Promise<EngineStatus> {
    this.requireRunning();
    return this.statusConn.run(sql.readStatus);
  }

  ensureReplicationUser(user: string, password: string): Promise<void> {
    return this.sql(async (c) => void (await ensureAccount(c, replicationAccount(user, sql.nativePasswordHash(password)), { binlog: true })));
  }

  async configureReplica(source: ReplicaSource, gtidSlavePos?: string): Promise<void> {
    await this.sql(async (c) => {
      const now = await sql.readStatus(c);
      // A replica writes what it applies to its own binary log; were it to wait for an
      // acknowledgement of that (it has no replica of its own), its SQL thread would stop there.
      if (now.waitNoSlave) await sql.setWaitNoSlave(c, false);
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

  async stopReplicaIo(): Promise<void> {
    try {
      await this.sql(sql.stopReplicaIo);
    } catch (err) {
      if (!(isAppError(err) && err.code === 'TIMEOUT')) throw err;
      await this.sql(sql.killReplicaIo);
    }
  }

  promote(): Promise<void> {
    return this.sql(sql.promote);
  }

  setReadOnly(readOnly: boolean): Promise<void> {
    return this.sql((c) => sql.setReadOnly(c, readOnly));
  }

  readonly appUsers: Engine['appUsers'] = appUsersOn((fn) => this.sql(fn), () => [...OWN_ACCOUNTS, this.dbUser.name, this.adminUser]);

  connectedReplicas(): Promise<{ host: string; port: number }[]> {
    this.requireRunning();
    return this.statusConn.run(sql.connectedReplicas);
  }

  setWaitNoSlave(on: boolean): Promise<void> {
    return this.sql((c) => sql.setWaitNoSlave(c, on));
  }

  setMasterRole(master: boolean): Promise<string[]> {
    return this.sql(async (c) => {
      if (master) return takeMasterRole(c);
      await leaveMasterRole(c);
      return [];
    });
  }

  ensureServiceUser(user: string, password: string): Promise<void> {
    return this.sql(async (c) => {
      const spec = serviceAccount(user, sql.nativePasswordHash(password), await sql.maxConnections(c));
      await ensureAccount(c, spec, { binlog: true });
    });
  }

  ensureAccounts(accounts: EngineAccounts, options: { binlog: boolean }): Promise<Record<string, string[]>> {
    const admins = [...new Set([this.adminUser, this.dbUser.name])];
    return this.sql(async (c) => ensureNodeAccounts(c, admins, accounts, await sql.maxConnections(c), options));
  }

  async replayBinlog(file: string, start: number, stop: number | null): Promise<string> {
    this.requireRunning();
    await chown(file, this.dbUser.uid, this.dbUser.gid);
    await replayBinlogFile(this.tools, file, start, stop);
    return (await this.sql(sql.readStatus)).gtid.binlogPos;
  }

  adoptGtidPosition(gtid: string): Promise<void> {
    return this.sql((c) => sql.adoptGtidPosition(c, gtid));
  }

  waitForGtid(gtid: string, timeoutSeconds: number): Promise<boolean> {
    return this.sql((c) => sql.waitForGtid(c, gtid, timeoutSeconds));
  }

  async counters(ignoreUsers: readonly string[]): Promise<EngineCounters> {
    this.requireRunning();
    // The database OS user's work (backup, dump) is the service's, not a client's.
    const c = await this.statusConn.run((conn) => sql.readCounters(conn, [...ignoreUsers, this.dbUser.name]));
    const disk = this.disk.read();
    return disk ? { ...c, disk } : c;
  }

  snapshotStream(incrementalLsn?: number): Readable {
    this.requireRunning();
    return snapshotStream(this.tools, this.backupParallel, incrementalLsn);
  }

  async snapshotInto(out: Writable): Promise<void> {
    try {
      this.requireRunning();
    } catch (e) {
      out.destroy();
      throw e;
    }
    await snapshotInto(this.tools, this.backupParallel, out);
  }

  async restoreSnapshot(input: SnapshotInput, settings: EngineSettings, stage: RestoreStage = { part: 'full', last: true }): Promise<{ gtid: string; bytes: number; ms: RestoreTimings }> {
    if (this.isInitialized()) throw new AppError('WRONG_STATE', 'this node already holds a data directory: a snapshot is restored only into a new node');
    const staging = join(this.layout.tmp, 'restore');
    if (stage.part === 'full') {
      await this.prepareDirs();
      await this.writeConfig(settings);
    } else if (!existsSync(join(staging, 'xtrabackup_checkpoints'))) throw new AppError('WRONG_STATE', 'an incremental backup is restored on top of a full one: restore the full backup first');
    const { gtid, bytes, extractMs, prepareMs } = await extractSnapshot(this.tools, input, stage.part === 'full' ? staging : `${staging}-incremental`, this.backupParallel, stage.part === 'full' ? undefined : staging);
    const ms = { extract: extractMs, prepare: prepareMs, start: 0 };
    if (!stage.last) return { gtid, bytes, ms };
    await rm(this.layout.data, { recursive: true, force: true });
    await rename(staging, this.layout.data);
    await writeFile(this.marker, `${new Date().toISOString()} restored at ${gtid}\n`, { mode: 0o600 });
    const starting = Date.now();
    await this.start(settings);
    ms.start = Date.now() - starting;
    // A copy of a replica may hold transactions past the binary log position it recorded: what its
    // replication applied (mysql.gtid_slave_pos, in the same InnoDB transactions) says (resume-position.ts).
    return { gtid: resumePosition(gtid, (await this.sql(sql.readStatus)).gtid.slavePos), bytes, ms };
  }

  async dumpStream(): Promise<Readable> {
    const dbs = await this.sql(sql.userDatabases);
    if (dbs.length === 0) return Readable.from(['-- cps-mysql: the service holds no user database\n']);
    return dumpStream(this.tools, dbs);
  }

  async loadDump(file: string, login: Login): Promise<LoadResult> {
    this.requireRunning();
    return loadDumpWhole(this.tools, file, login, (fn) => this.sql(fn));
  }

  checksumTables(schemas: readonly string[]): Promise<Record<string, number | null>> {
    return this.sql((c) => sql.checksumTables(c, schemas));
  }
}
