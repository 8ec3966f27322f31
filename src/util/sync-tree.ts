import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Flushes a directory tree to its disk: fsync(2) on every regular file and directory below
 * `path` and on `path` itself (directories last, so the entries naming synced files are synced
 * after them). Symbolic links and other kinds of file are left alone. Throws what open or fsync
 * throws (ENOENT when something is removed meanwhile).
 */
export async function syncTree(path: string): Promise<void> {
  for (const e of await readdir(path, { withFileTypes: true })) {
    if (e.isDirectory()) await syncTree(join(path, e.name));
    else if (e.isFile()) await syncFile(join(path, e.name));
  }
  await syncFile(path);
}

/** fsync(2) of one file or directory at `path` (opened read-only, closed after). Throws what open or fsync throws. */
export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
