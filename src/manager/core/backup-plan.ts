import type { BackupManifest } from '../../protocol/backups.js';
import { masterOf, type Snapshot } from './model.js';
import { diagnoseReplica } from './replicas.js';
import { list } from './words.js';

/** Seconds a replica may lag and still be the source of a backup (it is then as good as the master's copy). */
export const BACKUP_SOURCE_MAX_LAG_SECONDS = 1;

/**
 * Where a backup is taken from (issue #16): a caught-up replica when the service has one (the
 * least behind, then the lowest id; the master's I/O and commits stay untouched), the master
 * only when it has no replica. Answers the node's id, or why none can be used now. Pure.
 */
export function backupSource(s: Snapshot): { id: string } | { refused: string } {
  const master = masterOf(s.nodes);
  if (!master || master.status !== 'ready' || !master.reachable || !master.mysqlRunning) return { refused: 'the service has no master in service' };
  const replicas = s.nodes.filter((n) => n.role === 'replica' && n.status === 'ready');
  if (replicas.length === 0) return { id: master.id };
  const caughtUp = replicas
    .filter((n) => diagnoseReplica(n, master.id).name === 'ReplicaHealthy' && n.lagSeconds !== null && n.lagSeconds <= BACKUP_SOURCE_MAX_LAG_SECONDS)
    .sort((a, b) => (a.lagSeconds ?? 0) - (b.lagSeconds ?? 0) || a.id.localeCompare(b.id, 'en', { numeric: true }));
  if (caughtUp.length === 0) return { refused: `no replica is caught up with ${master.id} (${list(replicas.map((n) => n.id))} lag or do not replicate); the master is used only when it has no replica` };
  return { id: caughtUp[0]!.id };
}

/**
 * Which node new replicas copy their snapshot from (issue #17): the node backupSource would take a
 * backup from — a caught-up replica when the service has one, so the master's I/O and commits stay
 * untouched — else the master (provisioning is never refused for want of a replica). Pure.
 */
export function snapshotDonor(s: Snapshot, masterId: string): string {
  const chosen = backupSource(s);
  return 'id' in chosen ? chosen.id : masterId;
}

/**
 * The chain a restore starts from: a full backup and the incrementals on top of it, in order,
 * each one's parent the one before.
 */
export interface BackupChain {
  /** The full backup. */
  full: BackupManifest;
  /** The incrementals, oldest first. */
  incrementals: BackupManifest[];
}

/** The backups that chain onto `full`, in order (each the child of the one before), as far as they go. Pure. */
export function chainFrom(full: BackupManifest, all: BackupManifest[]): BackupManifest[] {
  const out: BackupManifest[] = [];
  let tip = full.id;
  for (;;) {
    const next = all.filter((b) => b.kind === 'incremental' && b.parent === tip).sort((a, b) => a.endedAt.localeCompare(b.endedAt))[0];
    if (!next) return out;
    out.push(next);
    tip = next.id;
  }
}

/**
 * The chain to restore from for a point in time `at` (ms since the epoch): the latest full backup
 * that ended at or before `at`, with its incrementals that ended at or before `at`. Null when no
 * backup ended by then (the time is before the recoverable window). Pure.
 */
export function chainFor(backups: readonly BackupManifest[], at: number): BackupChain | null {
  const done = backups.filter((b) => Date.parse(b.endedAt) <= at);
  const full = done.filter((b) => b.kind === 'full').sort((a, b) => b.endedAt.localeCompare(a.endedAt))[0];
  if (!full) return null;
  return { full, incrementals: chainFrom(full, done) };
}

/**
 * The backups a retention of `keep` full backups deletes: every chain (a full backup and its
 * incrementals) older than the `keep` newest full ones, except what a restore to a time still
 * inside the recoverable window needs: with archived binary logs reaching back to
 * `archiveFrom` (ms since the epoch; null: no archive), the newest chain that ended at or before
 * it stays, so that every second from there on remains recoverable. Incrementals whose parent is
 * gone are deleted with it. Never deletes the newest full backup. Answers ids, oldest first. Pure.
 */
export function backupsToPrune(backups: readonly BackupManifest[], keep: number, archiveFrom: number | null): string[] {
  const fulls = backups.filter((b) => b.kind === 'full').sort((a, b) => b.endedAt.localeCompare(a.endedAt));
  const kept = new Set(fulls.slice(0, Math.max(1, keep)).map((b) => b.id));
  if (archiveFrom !== null) {
    // The window's first second is restored from the newest chain that ended by then.
    const base = chainFor(backups, archiveFrom);
    if (base) kept.add(base.full.id);
  }
  const keepIds = new Set<string>();
  for (const f of fulls) {
    if (!kept.has(f.id)) continue;
    keepIds.add(f.id);
    for (const i of chainFrom(f, [...backups])) keepIds.add(i.id);
  }
  return [...backups]
    .sort((a, b) => a.endedAt.localeCompare(b.endedAt) || a.id.localeCompare(b.id))
    .filter((b) => !keepIds.has(b.id))
    .map((b) => b.id);
}

/** How long (ms) a scheduled backup that failed waits before the schedule tries again, at most. */
export const RETRY_AFTER_FAILURE_MS = 60_000;

/**
 * Whether the schedule takes a backup now (issue #16): a policy with an interval, none under way,
 * and the newest full backup began `intervalSeconds` or more ago (or there is none); after a failed
 * attempt at `lastAttempt` (ms), not before the interval or RETRY_AFTER_FAILURE_MS has passed
 * since it, whichever is shorter. `now` in ms. Pure.
 */
export function backupDue(intervalSeconds: number | null, backups: readonly BackupManifest[], now: number, running: boolean, lastAttempt: number | null): boolean {
  if (intervalSeconds === null || running) return false;
  const interval = intervalSeconds * 1000;
  if (lastAttempt !== null && now - lastAttempt < Math.min(interval, RETRY_AFTER_FAILURE_MS)) return false;
  const newest = backups.filter((b) => b.kind === 'full').reduce((m, b) => Math.max(m, Date.parse(b.startedAt)), Number.NEGATIVE_INFINITY);
  return now - newest >= interval;
}
