import { DEFAULT_BACKUP_POLICY, type BackupPolicy } from '../protocol/backups.js';
import type { BackupStore } from '../store/backup-store.js';
import type { StateStore } from '../store/store.js';
import { readJsonFile, writeJsonFile } from '../util/json-file.js';
import type { Logger } from '../util/logger.js';
import type { BackupRunner } from './backups.js';
import type { Clock } from './clock.js';
import { backupDue, backupsToPrune } from './core/backup-plan.js';

/** How often the schedule looks (ms). */
const TICK_MS = 1000;

/**
 * The backup policy at work (issue #16, docs/backups.md): takes a full backup when `backupDue`
 * says so while the service runs, and after every backup that succeeds (scheduled or asked for)
 * deletes what retention lets go (`backupsToPrune`), then has the archive drop what no kept
 * backup needs. The policy is kept in a file of the manager's directory.
 */
export class BackupSchedule {
  private current: BackupPolicy;
  private timer: NodeJS.Timeout | null = null;
  private lastAttempt: number | null = null;

  constructor(
    private readonly deps: {
      /** The registry (the service's state) and the events. */
      store: StateStore;
      /** Where backups are. */
      backups: BackupStore;
      /** Takes them. */
      runner: BackupRunner;
      /** Where the policy is kept (JSON). */
      policyFile: string;
      /** The archive drops what precedes the oldest backup kept (its GTID position), or everything a restore can no longer use. */
      pruneArchive: (oldestKeptGtid: string | null) => Promise<number>;
      /** The time. */
      clock: Clock;
      /** The log. */
      logger: Logger;
    },
  ) {
    this.current = { ...DEFAULT_BACKUP_POLICY, ...(readJsonFile<BackupPolicy>(deps.policyFile) ?? {}) };
  }

  /** The policy in force. */
  get policy(): BackupPolicy {
    return { ...this.current };
  }

  /** Changes the policy (what is not given stays), keeps it, and answers it. */
  async set(change: { interval?: number; keep?: number }): Promise<BackupPolicy> {
    const next: BackupPolicy = {
      intervalSeconds: change.interval === undefined ? this.current.intervalSeconds : change.interval === 0 ? null : change.interval,
      keep: change.keep ?? this.current.keep,
    };
    await writeJsonFile(this.deps.policyFile, next);
    this.current = next;
    this.lastAttempt = null;
    this.deps.store.addEvent(`backup policy: ${next.intervalSeconds === null ? 'no schedule' : `a full backup every ${next.intervalSeconds} s`}, ${next.keep} kept`);
    return this.policy;
  }

  /** Starts looking every second. */
  start(): void {
    this.timer ??= setInterval(() => void this.tick(), TICK_MS);
  }

  /** Stops looking. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One look: a backup begun when one is due. Never throws (a refusal is logged and tried again later). */
  async tick(): Promise<void> {
    try {
      if (this.deps.store.service()?.state !== 'RUNNING') return;
      const now = this.deps.clock.now();
      if (!backupDue(this.current.intervalSeconds, await this.deps.backups.list(), now, this.deps.runner.running !== null, this.lastAttempt)) return;
      this.lastAttempt = now;
      await this.deps.runner.begin();
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'scheduled backup not begun');
    }
  }

  /**
   * Retention, after a backup succeeded: deletes the backups `backupsToPrune` lets go for `keep`,
   * then the archived files older than every kept backup. Answers what was deleted.
   */
  async prune(): Promise<{ backups: string[]; archived: number }> {
    const all = await this.deps.backups.list();
    const gone = backupsToPrune(all, this.current.keep, null);
    for (const id of gone) await this.deps.backups.delete(id);
    const kept = all.filter((b) => !gone.includes(b.id) && b.kind === 'full').sort((a, b) => a.endedAt.localeCompare(b.endedAt));
    const archived = await this.deps.pruneArchive(kept[0]?.gtid ?? null);
    if (gone.length > 0 || archived > 0) {
      this.deps.store.addEvent(`retention (${this.current.keep} kept): deleted ${gone.length > 0 ? gone.join(', ') : 'no backup'}${archived > 0 ? ` and ${archived} archived file(s) older than every kept backup` : ''}`);
    }
    return { backups: gone, archived };
  }
}
