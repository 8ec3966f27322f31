import { z } from 'zod';

/** One archived binary log file a restore replays, and the part of it: bytes `[start, stop)` (null: to its end). */
export interface ReplayFile {
  /** The archive segment. */
  segment: string;
  /** The file's name in it. */
  name: string;
  /**
   * The highest sequence number of it that belongs to the service's history (its segment's seam
   * with the next master's: later ones were lost with their master), or null: all of it.
   */
  maxSeq?: number | null;
}

/**
 * A restore, decided before anything starts (issue #16) and kept in the startup operation: the
 * full backup the master is built from, the archived files replayed on top of it, and the point
 * where the replay stops.
 */
export interface RestorePlan {
  /** The full backup. */
  backup: string;
  /** The incremental backups applied on it, in order (each on the one before). */
  incrementals: string[];
  /** The GTID position of the last of them (or of the full one): the replay applies the transactions after it. */
  backupGtid: string;
  /** The archived files to replay, in order (each from the first transaction it holds past what is applied). */
  files: ReplayFile[];
  /** The last second restored (ISO, whole seconds): transactions written later are not replayed; null: to the archive's end. */
  until: string | null;
  /**
   * The first archived file that holds transactions past `until`, or null: the restored service
   * starts a new history there, and what the archive holds from there on is set aside.
   */
  cut: ReplayFile | null;
}

/** The stored form of a RestorePlan (operations are read back through zod). */
export const restorePlanSchema = z
  .object({
    backup: z.string().min(1).max(100),
    incrementals: z.array(z.string().min(1).max(100)).max(10_000),
    backupGtid: z.string().max(4096),
    files: z.array(z.object({ segment: z.string().min(1).max(80), name: z.string().min(1).max(120), maxSeq: z.number().int().min(0).nullable().optional() }).strict()).max(100_000),
    until: z.string().max(40).nullable(),
    cut: z.object({ segment: z.string().min(1).max(80), name: z.string().min(1).max(120) }).strict().nullable(),
  })
  .strict();

/** What `startup {restore}` asks for: a backup by id, a time (ISO 8601 UTC, whole seconds), both or neither (the archive's end). */
export const restoreRequestSchema = z
  .object({
    backup: z.string().min(1).max(100).optional(),
    time: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, { message: 'a time in ISO 8601 UTC to the second, like 2026-11-29T21:30:05Z (binary log times have a resolution of one second)' })
      .optional(),
  })
  .strict();

/** What `startup {restore}` asks for. */
export type RestoreRequest = z.infer<typeof restoreRequestSchema>;

/** The span a restore can reach: from the end of the oldest full backup to the archive's last known catch-up. */
export interface RecoverableWindow {
  /** The earliest second a restore reaches (ISO), or null without a backup. */
  from: string | null;
  /** The latest second (ISO), or null when nothing is archived. */
  until: string | null;
  /** Seconds between `until` and now, or null. */
  secondsBehind: number | null;
}
