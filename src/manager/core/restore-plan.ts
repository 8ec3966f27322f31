import type { BackupManifest } from '../../protocol/backups.js';
import { chainFrom } from './backup-plan.js';
import { parseGtidPosition, type Gtid } from '../../protocol/gtid.js';
import type { ReplayFile, RestorePlan, RestoreRequest } from '../../protocol/restore.js';
import { isoSecond } from '../../util/utc.js';

/** What the planner knows of one archived file (a BinlogFileScan's summary). */
export interface ArchivedFile extends ReplayFile {
  /** The first and last complete transactions, or null for a file that holds none. */
  first: { gtid: Gtid; at: number } | null;
  /** The last complete transaction. */
  last: { gtid: Gtid; at: number } | null;
  /** Where its sequence numbers skip inside it, or null. */
  gap: string | null;
  /** Why it cannot be read, or null. */
  error: string | null;
}


/**
 * Plans a restore (issue #16), before anything starts: the full backup, the archived files to
 * replay on top of it, and where the replay stops. `files` are every archived file in archive
 * order (segments as begun, files by name); `caughtUp` the last moment (s) the archive was known
 * to hold all its master wrote, with the master's GTID position then (a restore to the end, or to
 * a time past the last archived transaction, must reach it); `now` (s). Pure.
 *
 * - `time` given: the newest full backup that ended at or before it (or the one named), then every
 *   transaction after the backup's GTID written at or before `time` (binary log timestamps are whole
 *   seconds: "at or before 12:00:05" is every transaction stamped 12:00:05 or earlier).
 * - no `time`: to the archive's end.
 *
 * `seams` (archiveSeams) limit a segment to the transactions the next master also holds: past
 * them, a lost master's orphans are never replayed.
 *
 * Answers the plan, or why it cannot be reached, naming what is missing: no backup by that id or
 * before that time, a time after the archive's last catch-up or in the future, a gap in the
 * archive (transactions no file holds), a file that cannot be read.
 */
export function planRestore(
  request: RestoreRequest,
  backups: readonly BackupManifest[],
  files: readonly ArchivedFile[],
  caughtUp: { at: number; gtid: string } | null,
  now: number,
  seams: Record<string, Record<number, number>> = {},
): RestorePlan | { refused: string } {
  const fulls = backups.filter((b) => b.kind === 'full');
  const target = request.time !== undefined ? Date.parse(request.time) / 1000 : null;
  if (target !== null && target > now) return { refused: `the time ${request.time} is in the future` };
  let backup: BackupManifest | undefined;
  if (request.backup !== undefined) {
    backup = backups.find((b) => b.id === request.backup);
    if (!backup) return { refused: `no backup ${request.backup} (backups: ${fulls.map((b) => b.id).join(', ') || 'none'})` };
    if (backup.kind !== 'full') return { refused: `backup ${backup.id} is incremental: name the full backup it belongs to (${backup.parent})` };
    if (target !== null && Date.parse(backup.endedAt) / 1000 > target + 1) return { refused: `backup ${backup.id} ended at ${backup.endedAt}, after ${request.time}` };
  } else {
    const usable = fulls.filter((b) => target === null || Math.ceil(Date.parse(b.endedAt) / 1000) <= target).sort((a, b) => a.endedAt.localeCompare(b.endedAt));
    backup = usable.at(-1);
    if (!backup) {
      const oldest = fulls.map((b) => b.endedAt).sort()[0];
      return { refused: oldest ? `the time ${request.time} is before the recoverable window, which begins when the oldest backup ended (${oldest})` : 'there is no backup to restore from: take one with `backup` first' };
    }
  }
  // The incrementals on it that ended by the target: the replay starts after the last of them.
  const incrementals = chainFrom(backup, backups.filter((b) => target === null || Math.ceil(Date.parse(b.endedAt) / 1000) <= target));
  const base = incrementals.at(-1) ?? backup;
  const start = parseGtidPosition(base.gtid);
  if (!start) return { refused: `backup ${base.id} records a GTID position that cannot be read: ${base.gtid}` };
  const reached = new Map(start.map((g) => [g.domain, g]));
  const chosen: ReplayFile[] = [];
  let lastAt: number | null = null;
  let cut: ReplayFile | null = null;
  for (const f of files) {
    if (f.error !== null) return { refused: `the archived file ${f.segment}/${f.name} cannot be read: ${f.error}` };
    if (!f.first || !f.last) continue;
    const limit = seams[f.segment]?.[f.first.gtid.domain] ?? null;
    // Past the seam with the next master: none of this file is the service's history.
    if (limit !== null && f.first.gtid.seq > limit) continue;
    const lastSeq = limit !== null ? Math.min(limit, f.last.gtid.seq) : f.last.gtid.seq;
    // Already applied (the backup holds it, or an earlier file did: a new master's binary log repeats its history).
    if (lastSeq <= (reached.get(f.last.gtid.domain)?.seq ?? 0)) continue;
    if (target !== null && f.first.at > target && f.first.gtid.seq > (reached.get(f.first.gtid.domain)?.seq ?? 0)) {
      cut = { segment: f.segment, name: f.name };
      break;
    }
    const have = reached.get(f.first.gtid.domain)?.seq ?? 0;
    if (f.first.gtid.seq > have + 1) {
      return { refused: `the archive misses transactions ${f.first.gtid.domain}-*-${have + 1} to ${f.first.gtid.domain}-*-${f.first.gtid.seq - 1}: nothing archived holds them (before ${f.segment}/${f.name})` };
    }
    if (f.gap !== null) return { refused: `the archived file ${f.segment}/${f.name} skips transactions (${f.gap})` };
    chosen.push({ segment: f.segment, name: f.name, maxSeq: limit !== null && limit < f.last.gtid.seq ? limit : null });
    reached.set(f.last.gtid.domain, { ...f.last.gtid, seq: lastSeq });
    lastAt = f.last.at;
    if (target !== null && f.last.at > target) {
      cut = { segment: f.segment, name: f.name };
      break;
    }
  }
  const archivedUntil = Math.max(caughtUp?.at ?? 0, lastAt ?? 0);
  if (target !== null && target > archivedUntil) {
    return { refused: `the time ${request.time} is after the last recoverable time (${archivedUntil > 0 ? isoSecond(archivedUntil) : 'nothing archived'}): the archive holds nothing later` };
  }
  // To the end, or past the last transaction the files hold: the files must reach the last catch-up.
  if (caughtUp && cut === null && (target === null || target >= (lastAt ?? 0))) {
    const want = parseGtidPosition(caughtUp.gtid) ?? [];
    const short = want.find((g) => (reached.get(g.domain)?.seq ?? 0) < g.seq);
    if (short) {
      const have = reached.get(short.domain)?.seq ?? 0;
      return { refused: `the archive misses transactions ${short.domain}-*-${have + 1} to ${short.domain}-${short.server}-${short.seq} (it held them at ${isoSecond(caughtUp.at)}): an archived file is missing` };
    }
  }
  return { backup: backup.id, incrementals: incrementals.map((b) => b.id), backupGtid: base.gtid, files: chosen, until: target !== null ? isoSecond(target) : null, cut };
}
