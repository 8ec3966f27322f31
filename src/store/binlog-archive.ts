import type { Readable } from 'node:stream';

/** One run of archiving from one master: the files of its binary log, as that master names them. */
export interface ArchiveSegment {
  /** Its id, `s000001-node-1` style: segments sort by it in the order they were begun. */
  id: string;
  /** The master it copies. */
  node: string;
  /** When it was begun (ISO time). */
  startedAt: string;
  /** Its files, in order (the master's binary log names), with their sizes in bytes. */
  files: Array<{ name: string; bytes: number }>;
}

/** What the archive says of itself between runs of a manager. */
export interface ArchiveState {
  /**
   * The last moment (ISO time) the archive was known to hold everything its master had written:
   * a restore to any second up to it is possible. Null before the first catch-up.
   */
  caughtUpAt: string | null;
  /** The master's `gtid_binlog_pos` at that moment: a restore to the end, or past the last archived transaction, must reach it. */
  caughtUpGtid?: string | null;
}

/**
 * The continuous archive of the masters' binary logs (issue #16), kept beside the backups. The
 * archiver (`mariadb-binlog --raw`) writes files into a segment's local directory; a store that
 * is not a local directory would upload them from there. Implementations: FsBinlogArchive.
 */
export interface BinlogArchive {
  /** Begins a segment for `node` and answers it with the local directory its files go to. */
  begin(node: string, at: Date): Promise<{ segment: ArchiveSegment; dir: string }>;
  /** Every segment, in the order they were begun, with their files. */
  segments(): Promise<ArchiveSegment[]>;
  /** Bytes `[start, end)` of a file of a segment (to its end when `end` is omitted). NOT_FOUND when there is none. */
  read(segment: string, file: string, start?: number, end?: number): Promise<Readable>;
  /** The archive's state; `caughtUpAt` null when never recorded. */
  state(): Promise<ArchiveState>;
  /** Records the archive's state (atomically). */
  setState(state: ArchiveState): Promise<void>;
  /** Deletes one archived file (retention: no kept backup needs it). NOT_FOUND when there is none. */
  remove(segment: string, file: string): Promise<void>;
  /**
   * Moves out of use what comes after a restored point (a restore to an earlier time starts a new
   * history): every segment begun after `segment`, and the files of `segment` after `file`, whose
   * bytes past `keepBytes` are cut (the original kept). They go under a folder named `label`,
   * kept, never read by a restore again. Answers how many files were moved.
   */
  supersede(label: string, segment: string, file: string, keepBytes: number): Promise<number>;
}
