import { open } from 'node:fs/promises';
import type { BinlogArchive } from '../../store/binlog-archive.js';
import type { ArchivedFile } from '../core/restore-plan.js';
import { newScan, scanBinlog, type BinlogFileScan, type BinlogTransaction } from './binlog-scan.js';

/** Bytes read at a time when a file is scanned. */
const CHUNK = 4 * 1024 * 1024;

/**
 * What the archive's files hold, kept up to date by reading only what was added since the last
 * look (the archiver appends): per file a BinlogFileScan summary (first and last transaction, a
 * gap), never the transactions themselves, so memory does not grow with the archive.
 */
export class ArchiveIndex {
  private readonly scans = new Map<string, BinlogFileScan>();

  constructor(
    private readonly archive: BinlogArchive,
    /** The local path of an archived file (FsBinlogArchive's layout), for reading at an offset. */
    private readonly pathOf: (segment: string, file: string) => string,
  ) {}

  /** Reads what was added to the archive; answers every file in archive order. */
  async refresh(): Promise<ArchivedFile[]> {
    const out: ArchivedFile[] = [];
    const seen = new Set<string>();
    for (const seg of await this.archive.segments()) {
      for (const f of seg.files) {
        const key = `${seg.id}/${f.name}`;
        seen.add(key);
        let scan = this.scans.get(key) ?? newScan();
        // A file that shrank was rewritten (superseded, or copied again from its start): read afresh.
        if (f.bytes < scan.offset) scan = newScan();
        if (f.bytes > scan.offset && scan.error === null) await scanFile(this.pathOf(seg.id, f.name), scan, f.bytes);
        this.scans.set(key, scan);
        out.push({ segment: seg.id, name: f.name, first: brief(scan.first), last: brief(scan.last), gap: scan.gap, error: scan.error });
      }
    }
    for (const key of [...this.scans.keys()]) if (!seen.has(key)) this.scans.delete(key);
    return out;
  }
}

function brief(t: BinlogTransaction | null): ArchivedFile['first'] {
  return t ? { gtid: t.gtid, at: t.at } : null;
}

/**
 * Reads `path` from `scan.offset` to `size` into `scan`, telling `onTransaction` of each complete
 * transaction (a restore finds its start and stop offsets this way). Answers the scan.
 */
export async function scanFile(path: string, scan: BinlogFileScan, size: number, onTransaction?: (t: BinlogTransaction) => void): Promise<BinlogFileScan> {
  const fh = await open(path, 'r');
  try {
    while (scan.offset < size && scan.error === null) {
      const from = scan.offset;
      const length = Math.min(CHUNK, size - from);
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, from);
      scanBinlog(scan, buf.subarray(0, bytesRead), onTransaction);
      // No complete event in a whole chunk: one event larger than the chunk; read it whole.
      if (scan.offset === from) {
        if (length === size - from) break;
        const big = Buffer.alloc(size - from);
        await fh.read(big, 0, big.length, from);
        scanBinlog(scan, big, onTransaction);
        break;
      }
    }
  } finally {
    await fh.close();
  }
  return scan;
}
