import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RecoverableWindow, RestorePlan, RestoreRequest } from '../../protocol/restore.js';
import type { BackupStore } from '../../store/backup-store.js';
import type { BackupManifest } from '../../protocol/backups.js';
import type { FsBinlogArchive } from '../../store/fs-binlog-archive.js';
import type { StateStore } from '../../store/store.js';
import { AppError } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';
import type { Clock } from '../clock.js';
import { masterOf, type Snapshot } from '../core/model.js';
import { planRestore } from '../core/restore-plan.js';
import { parseGtidPosition } from '../../protocol/gtid.js';
import { ArchiveIndex } from './archive-index.js';
import { BinlogArchiver, type ArchiveSource } from './archiver.js';
import { restoreNode } from './restore-run.js';
import { archiveSeams } from './seams.js';
import type { AgentPort } from '../agent-port.js';
import type { PitrPort } from '../execute/context.js';
import { isoSecond } from '../../util/utc.js';

/** How often the archive is looked at (ms): the archiver follows the master, the window is brought up to date. */
const TICK_MS = 1000;

/** What the keeper works with. */
export interface ArchiveKeeperDeps {
  /** The registry (the master's address, the replication account, the service's state and operation). */
  store: StateStore;
  /** The backups. */
  backups: BackupStore;
  /** The binary log archive. */
  archive: FsBinlogArchive;
  /** The loop's last look at the service, or null before the first. */
  latest: () => Snapshot | null;
  /** True while a backup is being taken. */
  backupUnderWay: () => boolean;
  /** The manager's private directory for the archiver's option file. */
  runDir: string;
  /** The time. */
  clock: Clock;
  /** Where it logs. */
  logger: Logger;
}

/**
 * Point-in-time recovery's keeper (issue #16): runs the archiver while the service has a master
 * and something to recover to (a backup exists or is being taken), keeps the recoverable window
 * up to date, plans restores, and takes out of use what a restore to an earlier time left behind.
 */
export class ArchiveKeeper implements PitrPort {
  private readonly archiver: BinlogArchiver;
  private readonly index: ArchiveIndex;
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private current: RecoverableWindow = { from: null, until: null, secondsBehind: null };
  private until: number | null = null;

  constructor(private readonly deps: ArchiveKeeperDeps) {
    this.archiver = new BinlogArchiver(deps.archive, deps.runDir, deps.logger, () => deps.clock.now());
    this.index = new ArchiveIndex(deps.archive, (s, f) => deps.archive.pathOf(s, f));
  }

  /** Starts looking every second. */
  start(): void {
    this.timer ??= setInterval(() => void this.tick(), TICK_MS);
  }

  /** Stops looking and copying (a manager that stops). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.archiver.stop();
  }

  /** The recoverable window as last seen (at most a second old while the manager runs). */
  get window(): RecoverableWindow {
    const behind = this.until !== null ? Math.max(0, Math.round(this.deps.clock.now() / 1000 - this.until)) : null;
    return { ...this.current, secondsBehind: behind };
  }

  /** One look: follow the master (or stop), then bring the window up to date. Never throws. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      // One listing of the backups per look, for both.
      const backups = await this.deps.backups.list();
      await this.archiver.follow(this.sourceNow(backups));
      await this.refreshWindow(backups);
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'archive: look failed');
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Plans a restore for `request` against the store as it is now, and checks the bytes of the
   * backups it starts from (a whole read of each). Throws WRONG_STATE naming what cannot be reached (planRestore), CORRUPT
   * when the backup was truncated or altered. Nothing is started either way.
   */
  async plan(request: RestoreRequest): Promise<RestorePlan> {
    const files = await this.index.refresh();
    const caughtUp = await this.lastCatchUp();
    const seams = await archiveSeams(await this.deps.archive.segments(), (seg, f) => this.deps.archive.pathOf(seg, f));
    if ('diverged' in seams) throw new AppError('WRONG_STATE', `restore refused, nothing started: the archive ${seams.diverged}`);
    const plan = planRestore(request, await this.deps.backups.list(), files, caughtUp, this.deps.clock.now() / 1000, seams.limits);
    if ('refused' in plan) throw new AppError('WRONG_STATE', `restore refused, nothing started: ${plan.refused}`);
    for (const id of [plan.backup, ...plan.incrementals]) {
      await pipeline(await this.deps.backups.read(id), new Writable({ write: (_c, _e, cb) => cb() })).catch((e: unknown) => {
        throw new AppError('CORRUPT', `restore refused, nothing started: ${(e as Error).message}`);
      });
    }
    return plan;
  }

  /** Builds a node from a restore plan (restore-run.ts): the GTID position reached and where the new history begins. */
  restoreNode(agent: AgentPort, plan: RestorePlan, serverId: number, progress: (what: string) => void): Promise<{ gtid: string; cutAt: number | null }> {
    return restoreNode({ backups: this.deps.backups, archive: this.deps.archive }, agent, plan, serverId, progress);
  }

  /**
   * Shutdown's last word to the archive: waits (`deadlineMs` at most) until it holds everything
   * the master wrote (the master takes no more writes by then), records it and stops copying.
   * Answers whether it caught up; null when nothing was being archived.
   */
  finish(deadlineMs: number): Promise<boolean | null> {
    return this.archiver.finish(deadlineMs);
  }

  /**
   * After a restore to `plan.until`: what the archive holds from the cut on (`cutAt` bytes into the
   * plan's `cut` file), and every backup that ended after `until`, are set aside under `label`.
   * Answers how many files and backups were.
   */
  async setAsideAfter(plan: RestorePlan, cutAt: number | null, label: string): Promise<{ files: number; backups: number }> {
    if (plan.until === null) return { files: 0, backups: 0 };
    // The last catch-up was the old history's.
    this.archiver.forgetCatchUp();
    await this.deps.archive.setState({ caughtUpAt: null, caughtUpGtid: null });
    const files = plan.cut ? await this.deps.archive.supersede(label, plan.cut.segment, plan.cut.name, cutAt ?? 0) : 0;
    const until = Date.parse(plan.until) + 999;
    let backups = 0;
    for (const b of await this.deps.backups.list()) {
      if (Date.parse(b.endedAt) > until) {
        await this.deps.backups.setAside(b.id, label);
        backups++;
      }
    }
    return { files, backups };
  }

  /** The later of the archiver's last catch-up and the one the archive recorded (s, GTID), or null. */
  private async lastCatchUp(): Promise<{ at: number; gtid: string } | null> {
    const live = this.archiver.lastCatchUp;
    if (live) return { at: live.at / 1000, gtid: live.gtid };
    const state = await this.deps.archive.state();
    return state.caughtUpAt && state.caughtUpGtid !== null && state.caughtUpGtid !== undefined ? { at: Date.parse(state.caughtUpAt) / 1000, gtid: state.caughtUpGtid } : null;
  }

  /**
   * Retention of the archive: deletes the files whose transactions all precede `oldestKeptGtid`
   * (the oldest backup kept: no restore can start before it), never the file being written; with
   * no backup left (null), every file but that one. Answers how many were deleted.
   */
  async pruneBefore(oldestKeptGtid: string | null): Promise<number> {
    const floor = new Map((oldestKeptGtid !== null ? (parseGtidPosition(oldestKeptGtid) ?? []) : []).map((g) => [g.domain, g.seq]));
    const files = await this.index.refresh();
    const segments = await this.deps.archive.segments();
    const writing = segments.at(-1);
    const current = writing ? `${writing.id}/${writing.files.at(-1)?.name ?? ''}` : '';
    let removed = 0;
    for (const f of files) {
      if (`${f.segment}/${f.name}` === current) continue;
      const done = oldestKeptGtid === null || (f.last !== null && f.last.gtid.seq <= (floor.get(f.last.gtid.domain) ?? 0)) || f.last === null;
      if (!done) continue;
      await this.deps.archive.remove(f.segment, f.name);
      removed++;
    }
    return removed;
  }

  private sourceNow(backups: readonly BackupManifest[]): ArchiveSource | null {
    const svc = this.deps.store.service();
    const op = this.deps.store.operation();
    if (!svc || svc.state === 'INIT' || svc.state === 'STOPPED' || op?.kind === 'shutdown') return null;
    const master = masterOf(this.deps.latest()?.nodes ?? []);
    if (!master || master.status !== 'ready' || !master.reachable || !master.mysqlRunning) return null;
    const rec = this.deps.store.node(master.id);
    if (!rec?.host || !rec.mysqlPort) return null;
    // Nothing to recover to without a backup: no copy runs until the first one begins.
    if (!this.deps.backupUnderWay() && backups.length === 0) return null;
    return { node: master.id, host: rec.host, port: rec.mysqlPort, user: svc.replUser, password: svc.replPassword };
  }

  /**
   * The window: from the end of the oldest full backup the archive continues without a gap to
   * its last catch-up (a backup of an earlier history, or one whose archive was lost, does not
   * count), to that catch-up. The seams are not read here (a look every second); a restore checks them.
   */
  private async refreshWindow(all: readonly BackupManifest[]): Promise<void> {
    const fulls = all.filter((b) => b.kind === 'full').sort((a, b) => a.endedAt.localeCompare(b.endedAt));
    const files = await this.index.refresh();
    const caughtUp = await this.lastCatchUp();
    const lastAt = files.reduce((m, f) => Math.max(m, f.last?.at ?? 0), 0);
    const until = Math.floor(Math.max(lastAt, caughtUp?.at ?? 0));
    const nowS = this.deps.clock.now() / 1000;
    const base = fulls.find((b) => !('refused' in planRestore({ backup: b.id }, all, files, caughtUp, nowS)));
    const from = base ? Math.ceil(Date.parse(base.endedAt) / 1000) : null;
    this.until = from !== null && until >= from ? until : null;
    this.current = { from: from !== null ? isoSecond(from) : null, until: this.until !== null ? isoSecond(this.until) : null, secondsBehind: null };
  }
}
