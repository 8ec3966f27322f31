import type { ArchiveSegment } from '../../store/binlog-archive.js';
import { scanFile } from './archive-index.js';
import { newScan, type BinlogTransaction } from './binlog-scan.js';

/** How many of a segment's last transactions are compared with the next segment (a lost master's orphans are few: what was in flight). */
export const SEAM_TAIL = 10_000;

/** One transaction as the seam sees it. */
export interface SeamTransaction {
  /** The domain. */
  domain: number;
  /** The server that wrote it. */
  server: number;
  /** Its sequence number. */
  seq: number;
}

/**
 * Where a segment's history stops being the service's (issue #16: the archive follows the master
 * across failovers): given `tail`, the last transactions of a segment (oldest first), and `next`,
 * the transactions of the segment that follows within the same sequence range, answers per
 * domain the highest sequence number both hold with the same server: transactions of the segment
 * after it were written by a master that was then lost, received by no replica (orphans), and are
 * not the service's history. A domain the next segment holds nothing of in that range is trusted
 * to its end (the next one continues it, or the planner finds the gap). `{ diverged }` names a
 * domain where the two agree on nothing within the tail. Pure.
 */
export function seamOf(tail: readonly SeamTransaction[], next: readonly SeamTransaction[]): { limits: Record<number, number> } | { diverged: string } {
  const limits: Record<number, number> = {};
  const domains = new Set(tail.map((t) => t.domain));
  for (const d of domains) {
    const mine = tail.filter((t) => t.domain === d);
    const theirs = new Map(next.filter((t) => t.domain === d).map((t) => [t.seq, t.server]));
    if (theirs.size === 0) {
      limits[d] = mine.at(-1)!.seq;
      continue;
    }
    const agreed = [...mine].reverse().find((t) => theirs.get(t.seq) === t.server);
    if (!agreed) return { diverged: `domain ${d}: its last ${mine.length} transactions (to ${d}-${mine.at(-1)!.server}-${mine.at(-1)!.seq}) match none the next master holds` };
    limits[d] = agreed.seq;
  }
  return { limits };
}

/**
 * The seams of the archive's segments, read from their files: for each segment but the last, the
 * per-domain limit `seamOf` gives (its transactions past it are not replayed). `pathOf` is the
 * local path of a file. `{ diverged }` names the segments that do not join.
 */
export async function archiveSeams(segments: readonly ArchiveSegment[], pathOf: (segment: string, file: string) => string): Promise<{ limits: Record<string, Record<number, number>> } | { diverged: string }> {
  const limits: Record<string, Record<number, number>> = {};
  for (let k = 0; k + 1 < segments.length; k++) {
    const seg = segments[k]!;
    const tail: SeamTransaction[] = [];
    // The tail: the last SEAM_TAIL transactions, from the last files back.
    for (const f of [...seg.files].reverse()) {
      const found: SeamTransaction[] = [];
      await scanFile(pathOf(seg.id, f.name), newScan(), f.bytes, (t) => found.push(brief(t)));
      tail.unshift(...found);
      if (tail.length >= SEAM_TAIL) break;
    }
    const kept = tail.slice(-SEAM_TAIL);
    if (kept.length === 0) continue;
    const low = Math.min(...kept.map((t) => t.seq));
    const high = Math.max(...kept.map((t) => t.seq));
    const next: SeamTransaction[] = [];
    const following = segments[k + 1]!;
    for (const f of following.files) {
      await scanFile(pathOf(following.id, f.name), newScan(), f.bytes, (t) => {
        if (t.gtid.seq >= low && t.gtid.seq <= high) next.push(brief(t));
      });
    }
    const seam = seamOf(kept, next);
    if ('diverged' in seam) return { diverged: `${seg.id} and ${following.id} do not join: ${seam.diverged}` };
    limits[seg.id] = seam.limits;
  }
  return { limits };
}

function brief(t: BinlogTransaction): SeamTransaction {
  return { domain: t.gtid.domain, server: t.gtid.server, seq: t.gtid.seq };
}
