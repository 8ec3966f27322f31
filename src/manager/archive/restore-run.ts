import { spawn } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { parseGtidPosition, type GtidPosition } from '../../protocol/gtid.js';
import type { RestorePlan } from '../../protocol/restore.js';
import type { BackupStore } from '../../store/backup-store.js';
import type { FsBinlogArchive } from '../../store/fs-binlog-archive.js';
import { AppError } from '../../util/errors.js';
import { TailBuffer, describeExit, lastLines, waitExit } from '../../util/proc.js';
import type { AgentPort } from '../agent-port.js';
import { scanFile } from './archive-index.js';
import { newScan } from './binlog-scan.js';

/** Where a restore reads from. */
export interface RestoreSources {
  /** The backups. */
  backups: BackupStore;
  /** The binary log archive. */
  archive: FsBinlogArchive;
}

/** Bytes and rate in words: `1024.0 MiB in 4.2 s (243.8 MiB/s)`. */
function amount(bytes: number, ms: number): string {
  const mib = bytes / 1048576;
  return `${mib.toFixed(1)} MiB in ${(ms / 1000).toFixed(1)} s (${(mib / Math.max(ms / 1000, 0.001)).toFixed(1)} MiB/s)`;
}

/** Uploads one stored backup to the agent's `restore_backup`, checked as it is read (CORRUPT) and decompressed on the way. */
async function sendBackup(backups: BackupStore, agent: AgentPort, id: string, params: { serverId: number; part: 'full' | 'incremental'; last: boolean }): Promise<{ restoredGtid: string; bytes: number }> {
  const stored = await backups.read(id);
  const zstd = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const err = new TailBuffer();
  zstd.stderr.on('data', (c: Buffer) => err.push(c));
  const exited = waitExit(zstd);
  const feeding = pipeline(stored, zstd.stdin);
  let answer;
  try {
    [answer] = await Promise.all([agent.restoreBackup(zstd.stdout, params), feeding]);
  } catch (e) {
    zstd.kill('SIGKILL');
    throw e;
  }
  const exit = await exited;
  if (exit.code !== 0) throw new AppError('ENGINE_FAILED', `restore from ${id}: zstd ${describeExit(exit)}: ${lastLines(err.text(), 3)}`);
  return answer;
}

/** The part of one archived file a replay applies: bytes `[start, stop)`, or null when it holds nothing to apply. */
export async function replayRange(path: string, size: number, reached: GtidPosition, until: number | null, maxSeq: number | null = null): Promise<{ start: number; stop: number; last: number | null } | null> {
  let start: number | null = null;
  let stop: number | null = null;
  let last: number | null = null;
  // Past the target (the file holds the cut), or past the segment's seam (a lost master's
  // orphans): nothing from there on is applied.
  let past = false;
  await scanFile(path, newScan(), size, (t) => {
    past ||= (until !== null && t.at > until) || (maxSeq !== null && t.gtid.seq > maxSeq);
    if (past) return;
    const have = reached.find((g) => g.domain === t.gtid.domain)?.seq ?? 0;
    if (t.gtid.seq <= have) return;
    start ??= t.start;
    stop = t.end;
    last = t.at;
  });
  return start !== null && stop !== null ? { start, stop, last } : null;
}

/**
 * Builds a new node's server from `plan` (issue #16): the full backup, checked as it is read
 * (CORRUPT when it was truncated or altered) and decompressed (`zstd -d`) into the agent's
 * `restore_backup`; then each archived file's transactions past the position reached, up to the
 * plan's `until`, through `replay_binlog`. A node that holds data (an earlier attempt) is wiped
 * first. `progress` hears each stage in words. Answers the GTID position reached and the offset in
 * the plan's `cut` file where the new history begins (null without a cut).
 */
export async function restoreNode(src: RestoreSources, agent: AgentPort, plan: RestorePlan, serverId: number, progress: (what: string) => void): Promise<{ gtid: string; cutAt: number | null }> {
  const st = await agent.call('get_status', {});
  if (st.mysqld.state !== 'uninitialized') await agent.call('wipe', {});
  // The full backup, then each incremental applied to it; the server starts after the last.
  const parts = [plan.backup, ...plan.incrementals];
  let restored: { restoredGtid: string; bytes: number } = { restoredGtid: '', bytes: 0 };
  for (const [i, id] of parts.entries()) {
    const began = Date.now();
    const r = await sendBackup(src.backups, agent, id, { serverId, part: i === 0 ? 'full' : 'incremental', last: i === parts.length - 1 });
    restored = { restoredGtid: r.restoredGtid, bytes: restored.bytes + r.bytes };
    progress(`restored ${id}${i > 0 ? ` on ${parts[i - 1]}` : ''}: ${amount(r.bytes, Date.now() - began)}`);
  }
  let gtid = restored.restoredGtid;
  const until = plan.until !== null ? Date.parse(plan.until) / 1000 : null;
  let cutAt: number | null = null;
  // The archive's listing, read once: nothing is added to the segments a restore reads.
  const segments = await src.archive.segments();
  const sizeOf = (segment: string, name: string): number | undefined => segments.find((s) => s.id === segment)?.files.find((x) => x.name === name)?.bytes;
  for (const f of plan.files) {
    const path = src.archive.pathOf(f.segment, f.name);
    const size = sizeOf(f.segment, f.name);
    if (size === undefined) throw new AppError('CORRUPT', `restore: the archived file ${f.segment}/${f.name} is gone`);
    const reached = parseGtidPosition(gtid) ?? [];
    const range = await replayRange(path, size, reached, until, f.maxSeq ?? null);
    if (range !== null) {
      const began = Date.now();
      const r = await agent.replayBinlog(await src.archive.read(f.segment, f.name, 0, range.stop), { start: range.start, stop: range.stop });
      gtid = r.gtid;
      progress(`replayed ${f.segment}/${f.name} to GTID ${gtid}: ${amount(range.stop - range.start, Date.now() - began)}`);
    }
  }
  if (plan.cut) {
    // The new history begins at the first transaction the restore did not apply.
    const size = sizeOf(plan.cut.segment, plan.cut.name) ?? 0;
    const rest = size > 0 ? await replayRange(src.archive.pathOf(plan.cut.segment, plan.cut.name), size, parseGtidPosition(gtid) ?? [], null) : null;
    cutAt = rest?.start ?? size;
  }
  return { gtid, cutAt };
}
