import type { Readable, Writable } from 'node:stream';
import type { BackupFacts, BackupManifest } from '../protocol/backups.js';

/**
 * A backup being written: the bytes go to `stream`; `commit` makes it a backup (listed, with its
 * manifest); `abort` removes what was written. Until `commit` resolves, nothing of it is listed:
 * a writer that dies midway leaves nothing that looks complete.
 */
export interface BackupWriter {
  /** Where the (already compressed) bytes go. End it before `commit`. */
  readonly stream: Writable;
  /**
   * Records the backup with `facts`, the bytes written and their SHA-256, and answers its
   * manifest. Throws WRONG_STATE when the stream was not ended or failed.
   */
  commit(facts: BackupFacts): Promise<BackupManifest>;
  /** Removes what was written; nothing is listed. Safe to call after a failure, or twice. */
  abort(): Promise<void>;
}

/**
 * Where backups live (a directory today; an S3-compatible bucket later). Implementations pass
 * test/contract/backup-store.contract.ts. Ids follow BACKUP_ID_PATTERN.
 */
export interface BackupStore {
  /** Begins a backup named `id`. Throws INVALID_PARAMS for an id against the rule, WRONG_STATE when one by that id exists or is being written. */
  begin(id: string): Promise<BackupWriter>;
  /** Every complete backup, oldest first (by `startedAt`, then id). */
  list(): Promise<BackupManifest[]>;
  /** One backup's manifest; NOT_FOUND when there is none by that id. */
  get(id: string): Promise<BackupManifest>;
  /**
   * The stored bytes of a backup, checked as they are read: the stream fails with CORRUPT when
   * they end short of, go past, or differ from what the manifest recorded (a truncated or altered
   * file). NOT_FOUND when there is none by that id.
   */
  read(id: string): Promise<Readable>;
  /** Deletes a backup (manifest first: it is never listed half deleted). NOT_FOUND when there is none. */
  delete(id: string): Promise<void>;
  /**
   * Takes a backup out of use without deleting it (a restore to an earlier time made it part of a
   * history the service left): no longer listed, read or restored, kept under `label` for an
   * operator. NOT_FOUND when there is none by that id.
   */
  setAside(id: string, label: string): Promise<void>;
  /** Removes what writers that never committed left behind (after a crash); answers how many. */
  cleanup(): Promise<number>;
}
