/**
 * What a backup is, as the store keeps it and list_backups will show it (issue #16): a full
 * physical copy (`mariadb-backup --backup --stream=xbstream`, zstd-compressed by its producer), or
 * an incremental one on top of another, with the GTID position it holds.
 */
export interface BackupManifest {
  /** Its id: `full-20261129T203000Z` style, letters, digits, `.`, `_`, `-` (1–100). */
  id: string;
  /** `full`, or `incremental` (on top of `parent`). */
  kind: 'full' | 'incremental';
  /** The backup this one is on top of (incremental), or null. */
  parent: string | null;
  /** When the copy began and ended (ISO times). */
  startedAt: string;
  /** When the copy ended. */
  endedAt: string;
  /** The GTID position the copy corresponds to (`mariadb_backup_binlog_info`). */
  gtid: string;
  /** The InnoDB LSN the copy reaches (`xtrabackup_checkpoints`' to_lsn): an incremental on it starts there. Absent in backups from before it was recorded. */
  toLsn?: number;
  /** The node it was taken from. */
  sourceNode: string;
  /** That node's server version (`@@version`). */
  serverVersion: string;
  /** How the stored bytes are compressed. */
  compression: 'zstd' | 'none';
  /** Bytes stored (computed by the store as they were written). */
  bytes: number;
  /** SHA-256 of the stored bytes, hex (computed by the store). */
  sha256: string;
}

/** What the producer of a backup says of it; the store adds `id`, `bytes` and `sha256`. */
export type BackupFacts = Omit<BackupManifest, 'id' | 'bytes' | 'sha256'>;

/** The rule a backup id follows (also a file name on any store). */
export const BACKUP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The backup being taken: its id, its source node, when it began, the bytes copied so far. */
export interface BackupProgress {
  /** Its id. */
  id: string;
  /** The node it is taken from. */
  source: string;
  /** When it began (ISO time). */
  startedAt: string;
  /** Bytes of the server's copy streamed so far (before compression). */
  bytes: number;
}

/** How the last backup ended: its id, whether it was kept, why not. */
export interface BackupOutcome {
  /** Its id. */
  id: string;
  /** Kept in the store. */
  ok: boolean;
  /** Why it failed, or null. */
  error: string | null;
  /** When it ended (ISO time). */
  endedAt: string;
}

/** When backups are taken by themselves and how many are kept (set_backup_policy). */
export interface BackupPolicy {
  /** Seconds between scheduled full backups (from the start of the newest one), or null: none scheduled. */
  intervalSeconds: number | null;
  /** How many full backups retention keeps (with what they need); older ones are deleted after each new one. */
  keep: number;
}

/** The policy a manager starts with: nothing scheduled, seven full backups kept. */
export const DEFAULT_BACKUP_POLICY: BackupPolicy = { intervalSeconds: null, keep: 7 };

/** What list_backups answers: the complete backups, oldest first, the one under way, how the last ended. */
export interface BackupList {
  /** The schedule and retention. */
  policy: BackupPolicy;
  /** Every complete backup, oldest first. */
  backups: BackupManifest[];
  /** The backup being taken, or null. */
  running: BackupProgress | null;
  /** How the last backup since the manager started ended, or null. */
  last: BackupOutcome | null;
}
