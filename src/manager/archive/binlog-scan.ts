import type { Gtid } from '../../protocol/gtid.js';

/**
 * A reading of MariaDB binary log files, event header by event header, for the archive: which
 * transactions (GTIDs) a file holds, when they were written, and where its complete events end.
 * Only what the archive needs is decoded; the format is MariaDB's (the "Binary Log Event Types"
 * and "Log Event Header" pages of the MariaDB knowledge base):
 *
 * - a file begins with the magic `\xfe b i n`;
 * - each event has a 19-byte header: timestamp (u32, seconds since the epoch), type (u8),
 *   server_id (u32), event length (u32, header and checksum included), next position (u32),
 *   flags (u16), all little-endian;
 * - GTID_EVENT (162) opens a transaction: seq_no (u64), domain_id (u32), flags2 (u8; bit 1 set
 *   for a standalone statement, a DDL, whose group is the one event that follows);
 * - GTID_LIST_EVENT (163), near the start of every file, holds the GTID state before it: a count
 *   (u32, low 28 bits), then domain (u32), server (u32), seq (u64) per entry;
 * - a transaction ends with XID_EVENT (16), or a QUERY_EVENT (2) whose statement is COMMIT.
 */

/** The magic every binary log file begins with. */
export const BINLOG_MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
const HEADER = 19;
const QUERY_EVENT = 2;
const XID_EVENT = 16;
const GTID_EVENT = 162;
const GTID_LIST_EVENT = 163;
const FL_STANDALONE = 1;

/** One transaction of a binary log: its GTID, when it was written (seconds), where it lies. */
export interface BinlogTransaction {
  /** Its GTID (the server is the header's server_id). */
  gtid: Gtid;
  /** The GTID event's timestamp: when the transaction's first statement began on its master (s). */
  at: number;
  /** The file offset of its GTID event. */
  start: number;
  /** The file offset just past its last event. */
  end: number;
}

/** What a file's complete events hold so far (a summary: the transactions themselves go to a callback). */
export interface BinlogFileScan {
  /** Bytes read up to the end of the last complete transaction (where the next reading begins). */
  offset: number;
  /** The GTID state at the file's start (its GTID_LIST_EVENT), or null when not read yet. */
  startState: Gtid[] | null;
  /** The first complete transaction, or null. */
  first: BinlogTransaction | null;
  /** The last complete transaction, or null. */
  last: BinlogTransaction | null;
  /** How many complete transactions. */
  count: number;
  /** Where a domain's sequence numbers skip inside the file (`0-1-7 then 0-1-9`), the first one, or null. */
  gap: string | null;
  /** Why the file cannot be read further (not a binary log, an event that cannot be), or null. */
  error: string | null;
}

/** An empty scan, to be fed the file from its first byte. */
export function newScan(): BinlogFileScan {
  return { offset: 0, startState: null, first: null, last: null, count: 0, gap: null, error: null };
}

/**
 * Reads the complete events of `bytes`, the file's content from `scan.offset` on, into `scan`
 * (which it changes and returns), telling `onTransaction` of each complete transaction in order.
 * Events cut short at the end wait for the next call with more bytes; a transaction whose end has
 * not come yet is read again from its GTID event next time. A file that does not begin with the
 * magic, or an event shorter than its header, sets `error`.
 */
export function scanBinlog(scan: BinlogFileScan, bytes: Buffer, onTransaction?: (t: BinlogTransaction) => void): BinlogFileScan {
  if (scan.error !== null) return scan;
  let at = 0;
  if (scan.offset === 0) {
    if (bytes.length < BINLOG_MAGIC.length) return scan;
    if (!bytes.subarray(0, 4).equals(BINLOG_MAGIC)) return { ...scan, error: 'not a binary log (no magic number)' };
    at = 4;
  }
  let open: { gtid: Gtid; at: number; standalone: boolean; start: number } | null = null;
  let committed = scan.offset + at;
  while (at + HEADER <= bytes.length) {
    const timestamp = bytes.readUInt32LE(at);
    const type = bytes.readUInt8(at + 4);
    const server = bytes.readUInt32LE(at + 5);
    const length = bytes.readUInt32LE(at + 9);
    if (length < HEADER) {
      scan.error = `an event at offset ${scan.offset + at} is shorter than its header (${length} bytes)`;
      break;
    }
    if (at + length > bytes.length) break;
    const body = bytes.subarray(at + HEADER, at + length);
    const end = scan.offset + at + length;
    if (type === GTID_LIST_EVENT && scan.startState === null) {
      scan.startState = gtidList(body);
    } else if (type === GTID_EVENT && body.length >= 13) {
      open = { gtid: { domain: body.readUInt32LE(8), server, seq: Number(body.readBigUInt64LE(0)) }, at: timestamp, standalone: (body.readUInt8(12) & FL_STANDALONE) !== 0, start: scan.offset + at };
    } else if (open !== null && (open.standalone || type === XID_EVENT || (type === QUERY_EVENT && isCommit(body)))) {
      const t: BinlogTransaction = { gtid: open.gtid, at: open.at, start: open.start, end };
      const prev = scan.last;
      if (scan.gap === null && prev !== null && prev.gtid.domain === t.gtid.domain && t.gtid.seq !== prev.gtid.seq + 1) {
        scan.gap = `${fmt(prev.gtid)} then ${fmt(t.gtid)}`;
      }
      scan.first ??= t;
      scan.last = t;
      scan.count++;
      onTransaction?.(t);
      open = null;
    }
    at += length;
    if (open === null) committed = end;
  }
  // The next reading begins after the last complete transaction (or event outside one).
  scan.offset = open !== null ? open.start : committed;
  return scan;
}

function fmt(g: Gtid): string {
  return `${g.domain}-${g.server}-${g.seq}`;
}
function gtidList(body: Buffer): Gtid[] {
  if (body.length < 4) return [];
  const count = body.readUInt32LE(0) & 0x0fffffff;
  const out: Gtid[] = [];
  for (let i = 0; i < count && 4 + (i + 1) * 16 <= body.length; i++) {
    const o = 4 + i * 16;
    out.push({ domain: body.readUInt32LE(o), server: body.readUInt32LE(o + 4), seq: Number(body.readBigUInt64LE(o + 8)) });
  }
  return out;
}

/** A QUERY_EVENT's statement is COMMIT: post-header of 13 bytes, status variables, the schema and a NUL, then the text. */
function isCommit(body: Buffer): boolean {
  if (body.length < 13) return false;
  const schemaLength = body.readUInt8(8);
  const statusLength = body.readUInt16LE(11);
  const text = body.subarray(13 + statusLength + schemaLength + 1);
  // The event may end with a 4-byte checksum.
  return /^COMMIT/i.test(text.toString('latin1', 0, Math.min(text.length, 6)));
}
