import type { BackupManifest, BackupOutcome, BackupProgress } from '../protocol/backups.js';
import type { BackupStore } from '../store/backup-store.js';
import type { StateStore } from '../store/store.js';
import { AppError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { AgentDirectory } from './agent-port.js';
import type { Clock } from './clock.js';
import { backupSource, chainFor } from './core/backup-plan.js';
import type { Snapshot } from './core/model.js';
import type { CounterHistory } from './core/performance.js';
import { transferBackup } from './backup-transfer.js';
import { compactUtc } from '../util/utc.js';

/** What the backups need: the registry, the store, the agents, the last look at the service, the clock and the log. */
export interface BackupRunnerDeps {
  /** The registry and the events. */
  store: StateStore;
  /** Where backups go. */
  backups: BackupStore;
  /** The nodes' agents (the source's copy). */
  agents: AgentDirectory;
  /** The loop's last look at the service (the source is chosen from it), or null before the first. */
  latest: () => Snapshot | null;
  /** Each node's counter samples (its server version). */
  counterHistory: () => Record<string, CounterHistory>;
  /** The time. */
  clock: Clock;
  /** Where outcomes are logged. */
  logger: Logger;
  /** Called after each backup that succeeded (retention); its failure is logged, the backup stays. */
  afterBackup?: () => Promise<unknown>;
}

/**
 * Takes full physical backups in the background, one at a time, beside the loop: a backup is not
 * an operation of the service's state machine, so a failover or a repair never waits for one
 * (docs/backups.md). What it writes is listed only once complete (BackupStore); a manager that
 * dies midway leaves remains that `cleanup` removes at the next start.
 */
export class BackupRunner {
  private current: BackupProgress | null = null;
  private lastOutcome: BackupOutcome | null = null;

  constructor(private readonly deps: BackupRunnerDeps) {}

  /** The backup under way, or null. */
  get running(): BackupProgress | null {
    return this.current ? { ...this.current } : null;
  }

  /** How the last backup ended, or null. */
  get last(): BackupOutcome | null {
    return this.lastOutcome;
  }

  /**
   * Begins a backup of the service and answers at once with its id and source. A full one comes
   * from the node backupSource chooses. An incremental one (`incremental`) holds the pages changed
   * since the newest backup of the newest full backup's chain (its parent), and comes from the
   * node that parent was taken from (InnoDB LSNs are a server's own). Throws BUSY while one is
   * under way, WRONG_STATE when the service is not RUNNING or no source can be used now, naming
   * why (no full backup to build on, its source gone or not in service).
   */
  async begin(options: { incremental?: boolean } = {}): Promise<{ id: string; source: string }> {
    if (this.current) throw new AppError('BUSY', `backup: ${this.current.id} is under way (from ${this.current.source}); one at a time`);
    const state = this.deps.store.service()?.state ?? 'INIT';
    if (state !== 'RUNNING') throw new AppError('WRONG_STATE', `wrong state to backup: ${state} (accepted: RUNNING)`);
    const snapshot = this.deps.latest();
    if (!snapshot) throw new AppError('WRONG_STATE', 'backup: the manager has not looked at the service yet; try again in a second');
    const now = new Date(this.deps.clock.now());
    const parent = options.incremental ? await this.parentForIncremental(snapshot, now.getTime()) : null;
    let sourceId: string;
    if (parent) sourceId = parent.sourceNode;
    else {
      const chosen = backupSource(snapshot);
      if ('refused' in chosen) throw new AppError('WRONG_STATE', `backup refused: ${chosen.refused}`);
      sourceId = chosen.id;
    }
    if (this.current) throw new AppError('BUSY', `backup: ${(this.current as BackupProgress).id} is under way; one at a time`);
    const node = this.deps.store.nodes().find((n) => n.id === sourceId)!;
    const id = `${parent ? 'incr' : 'full'}-${compactUtc(now)}`;
    const samples = this.deps.counterHistory()[sourceId]?.samples;
    const serverVersion = samples?.[samples.length - 1]?.serverVersion ?? 'unknown';
    const progress: BackupProgress = { id, source: sourceId, startedAt: now.toISOString(), bytes: 0 };
    const run = async (): Promise<void> => {
      try {
        const stream = await this.deps.agents.for(node).snapshot(parent?.toLsn);
        const facts = { kind: parent ? ('incremental' as const) : ('full' as const), parent: parent?.id ?? null, startedAt: progress.startedAt, sourceNode: sourceId, serverVersion };
        const m = await transferBackup(stream, this.deps.backups, id, facts, (b) => {
          progress.bytes = b;
        });
        this.finished({ id, ok: true, error: null, endedAt: m.endedAt }, `backup ${id} taken from ${sourceId}: ${m.bytes} bytes compressed, GTID ${m.gtid || '(none)'}${parent ? `, on ${parent.id}` : ''}`);
        await this.deps.afterBackup?.().catch((e: unknown) => this.deps.logger.warn({ err: (e as Error).message }, 'retention after a backup failed'));
      } catch (e) {
        this.finished({ id, ok: false, error: (e as Error).message, endedAt: new Date(this.deps.clock.now()).toISOString() }, `backup ${id} from ${sourceId} failed, nothing kept: ${(e as Error).message}`);
      }
    };
    // Recorded before it runs: a failure that comes at once (no address) still ends it properly.
    this.current = progress;
    this.deps.store.addEvent(`backup ${id}: copying ${sourceId}${parent ? ` (incremental on ${parent.id})` : ''}`);
    void run();
    return { id, source: sourceId };
  }

  /** The backup an incremental builds on: the tip of the newest chain, whose source is in service. WRONG_STATE naming why there is none. */
  private async parentForIncremental(s: Snapshot, now: number): Promise<BackupManifest> {
    const chain = chainFor(await this.deps.backups.list(), now);
    if (!chain) throw new AppError('WRONG_STATE', 'backup refused: an incremental backup builds on a full one, and there is none: take a full backup first');
    const tip = chain.incrementals.at(-1) ?? chain.full;
    if (tip.toLsn === undefined) throw new AppError('WRONG_STATE', `backup refused: ${tip.id} does not record its LSN (taken by an older version): take a full backup`);
    const n = s.nodes.find((x) => x.id === tip.sourceNode);
    if (!n || n.status !== 'ready' || !n.reachable || !n.mysqlRunning) {
      throw new AppError('WRONG_STATE', `backup refused: an incremental on ${tip.id} must come from ${tip.sourceNode}, where it was taken, which is not in service: take a full backup`);
    }
    return tip;
  }

  /** Every complete backup, oldest first. */
  list(): Promise<BackupManifest[]> {
    return this.deps.backups.list();
  }

  /** Deletes a complete backup: WRONG_STATE for the one being taken, NOT_FOUND for an id with none. */
  async delete(id: string): Promise<void> {
    if (this.current?.id === id) throw new AppError('WRONG_STATE', `backup ${id} is being taken; it can be deleted once it ends`);
    await this.deps.backups.delete(id);
  }

  private finished(outcome: BackupOutcome, event: string): void {
    this.lastOutcome = outcome;
    if (this.current?.id === outcome.id) this.current = null;
    this.deps.store.addEvent(event);
    if (outcome.ok) this.deps.logger.info({ backup: outcome.id }, 'backup taken');
    else this.deps.logger.warn({ backup: outcome.id, reason: outcome.error }, 'backup failed');
  }
}
