import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BACKUP_ID_PATTERN, type BackupFacts, type BackupManifest } from '../protocol/backups.js';
import { AppError } from '../util/errors.js';
import { readJsonFile, writeJsonFile } from '../util/json-file.js';
import { syncFile } from '../util/sync-tree.js';
import type { BackupStore, BackupWriter } from './backup-store.js';

const DATA = 'data';
const PART = 'data.part';
const MANIFEST = 'manifest.json';

/**
 * Backups in a directory (default `D/backups`, or `--backup-dir` on any mounted path): one
 * folder per backup with its bytes (`data`) and its manifest (`manifest.json`), written last and
 * atomically, so a folder without one is a backup that never completed. Files are readable by
 * their owner only.
 */
export class FsBackupStore implements BackupStore {
  /** Ids being written by this process: `cleanup` leaves them alone. */
  private readonly writing = new Set<string>();

  constructor(private readonly root: string) {}

  async begin(id: string): Promise<BackupWriter> {
    checkId(id);
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const dir = join(this.root, id);
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new AppError('WRONG_STATE', `backup ${id} exists already (or is being written)`);
      throw e;
    }
    this.writing.add(id);
    const hash = createHash('sha256');
    let bytes = 0;
    const counting = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    const written = pipeline(counting, createWriteStream(join(dir, PART), { flags: 'wx', mode: 0o600 }));
    let outcome: 'ok' | Error | null = null;
    written.then(
      () => {
        outcome = 'ok';
      },
      (e: Error) => {
        outcome = e;
      },
    );
    let done = false;
    const abort = async (): Promise<void> => {
      if (done) return;
      done = true;
      counting.destroy();
      await written.catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      this.writing.delete(id);
    };
    return {
      stream: counting,
      commit: async (facts: BackupFacts): Promise<BackupManifest> => {
        if (done) throw new AppError('WRONG_STATE', `backup ${id} was already committed or aborted`);
        if (outcome === null && !counting.writableEnded) throw new AppError('WRONG_STATE', `backup ${id}: its stream was not ended`);
        try {
          await written;
        } catch (e) {
          await abort();
          throw new AppError('WRONG_STATE', `backup ${id}: writing it failed (${(e as Error).message}); nothing was kept`);
        }
        await syncFile(join(dir, PART));
        await rename(join(dir, PART), join(dir, DATA));
        const manifest: BackupManifest = { ...facts, id, bytes, sha256: hash.digest('hex') };
        await writeJsonFile(join(dir, MANIFEST), manifest);
        done = true;
        this.writing.delete(id);
        return manifest;
      },
      abort,
    };
  }

  async list(): Promise<BackupManifest[]> {
    const out: BackupManifest[] = [];
    for (const id of await this.ids()) {
      const m = readJsonFile<BackupManifest>(join(this.root, id, MANIFEST));
      if (m) out.push(m);
    }
    return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id));
  }

  async get(id: string): Promise<BackupManifest> {
    checkId(id);
    const m = readJsonFile<BackupManifest>(join(this.root, id, MANIFEST));
    if (!m) throw new AppError('NOT_FOUND', `no backup ${id}`);
    return m;
  }

  async read(id: string): Promise<Readable> {
    const m = await this.get(id);
    const path = join(this.root, id, DATA);
    await stat(path).catch(() => {
      throw new AppError('CORRUPT', `backup ${id}: its data file is missing`);
    });
    const hash = createHash('sha256');
    let bytes = 0;
    const checking = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        if (bytes > m.bytes) return cb(new AppError('CORRUPT', `backup ${id}: its data is longer than the ${m.bytes} bytes its manifest records`));
        hash.update(chunk);
        cb(null, chunk);
      },
      flush(cb) {
        if (bytes !== m.bytes) return cb(new AppError('CORRUPT', `backup ${id}: its data ends after ${bytes} of the ${m.bytes} bytes its manifest records (truncated)`));
        if (hash.digest('hex') !== m.sha256) return cb(new AppError('CORRUPT', `backup ${id}: its data does not match the SHA-256 its manifest records (altered)`));
        cb();
      },
    });
    const file = createReadStream(path);
    file.on('error', (e) => checking.destroy(e));
    return file.pipe(checking);
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    const dir = join(this.root, id);
    await rm(join(dir, MANIFEST), { force: true });
    await rm(dir, { recursive: true, force: true });
  }

  async setAside(id: string, label: string): Promise<void> {
    await this.get(id);
    checkId(label);
    const aside = join(this.root, '_superseded', label);
    await mkdir(aside, { recursive: true, mode: 0o700 });
    await rename(join(this.root, id), join(aside, id));
  }

  async cleanup(): Promise<number> {
    let removed = 0;
    for (const id of await this.ids()) {
      if (this.writing.has(id) || readJsonFile(join(this.root, id, MANIFEST)) !== null) continue;
      await rm(join(this.root, id), { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  private async ids(): Promise<string[]> {
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory() && BACKUP_ID_PATTERN.test(e.name)).map((e) => e.name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }
}

function checkId(id: string): void {
  if (!BACKUP_ID_PATTERN.test(id)) throw new AppError('INVALID_PARAMS', `a backup id is 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit: not ${JSON.stringify(id.slice(0, 100))}`);
}
