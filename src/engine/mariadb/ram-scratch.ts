import { statfsSync } from 'node:fs';

/** tmpfs's `f_type` in statfs(2) (linux/magic.h, TMPFS_MAGIC). */
export const TMPFS_MAGIC = 0x01021994;

/**
 * Free room (bytes) a RAM-backed directory must have to hold a data directory while
 * `mariadb-install-db` makes it: ~114 MiB, the 96 MiB redo log being allocated in full on tmpfs
 * (no unwritten extents there), with room to spare for everything else the host keeps in it.
 */
export const SCRATCH_MIN_FREE_BYTES = 512 * 1024 * 1024;

/** The facts of statfs(2) the choice below reads: the filesystem's type, its free blocks (for unprivileged users) and their size in bytes. */
export interface FsFacts {
  /** The filesystem's magic number (`f_type`): TMPFS_MAGIC for tmpfs. */
  type: number;
  /** Free blocks an unprivileged user may take (`f_bavail`). */
  bavail: number;
  /** A block's size in bytes (`f_bsize`). */
  bsize: number;
}

/** True when a directory with these facts can hold a new data directory in RAM: tmpfs with at least SCRATCH_MIN_FREE_BYTES free. Null facts (no such directory): false. */
export function fitsInRam(facts: FsFacts | null): boolean {
  return facts !== null && facts.type === TMPFS_MAGIC && facts.bavail * facts.bsize >= SCRATCH_MIN_FREE_BYTES;
}

/**
 * A RAM-backed directory where a new data directory can be made before it is copied to disk
 * (datadir-template.ts says why): `candidate` when fitsInRam says so, else null. Never throws.
 */
export function ramScratchRoot(candidate = '/dev/shm'): string | null {
  let facts: FsFacts | null = null;
  try {
    facts = statfsSync(candidate);
  } catch {
    facts = null;
  }
  return fitsInRam(facts) ? candidate : null;
}
