import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { AppError } from '../util/errors.js';
import { readJsonFile, writeJsonFile } from '../util/json-file.js';
import type { ArchiveSegment, ArchiveState, BinlogArchive } from './binlog-archive.js';

const SEGMENT = /^s(\d{6})-([A-Za-z0-9._-]{1,60})$/;
const FILE = /^[A-Za-z0-9._-]{1,100}\.\d{6}$/;
const META = 'segment.json';
const STATE = 'archive.json';

/**
 * The binary log archive in a directory: `<backups>/_binlogs/<segment>/<file>` (the leading `_`
 * keeps it apart from backup ids), with `segment.json` per segment and `archive.json` for the
 * archive's state; superseded files under `<backups>/_superseded/<label>/`. Owner-only modes.
 */
export class FsBinlogArchive implements BinlogArchive {
  private readonly root: string;

  constructor(private readonly backups: string) {
    this.root = join(backups, '_binlogs');
  }

  async begin(node: string, at: Date): Promise<{ segment: ArchiveSegment; dir: string }> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const last = (await this.segments()).at(-1);
    const n = last ? Number(SEGMENT.exec(last.id)![1]) + 1 : 1;
    const id = `s${String(n).padStart(6, '0')}-${node}`;
    if (!SEGMENT.test(id)) throw new AppError('INVALID_PARAMS', `an archive segment cannot be named after node ${JSON.stringify(node)}`);
    const dir = join(this.root, id);
    await mkdir(dir, { mode: 0o700 });
    const segment: ArchiveSegment = { id, node, startedAt: at.toISOString(), files: [] };
    await writeJsonFile(join(dir, META), { id, node, startedAt: segment.startedAt });
    return { segment, dir };
  }

  async segments(): Promise<ArchiveSegment[]> {
    let names: string[];
    try {
      names = (await readdir(this.root)).filter((n) => SEGMENT.test(n)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: ArchiveSegment[] = [];
    for (const id of names) {
      const meta = readJsonFile<{ node: string; startedAt: string }>(join(this.root, id, META));
      if (!meta) continue;
      const files = (await readdir(join(this.root, id))).filter((f) => FILE.test(f)).sort();
      const sized = await Promise.all(files.map(async (name) => ({ name, bytes: (await stat(join(this.root, id, name))).size })));
      out.push({ id, node: meta.node, startedAt: meta.startedAt, files: sized });
    }
    return out;
  }

  async read(segment: string, file: string, start = 0, end?: number): Promise<Readable> {
    const path = this.pathOf(segment, file);
    await stat(path).catch(() => {
      throw new AppError('NOT_FOUND', `the archive holds no ${segment}/${file}`);
    });
    return createReadStream(path, { start, ...(end !== undefined ? { end: end - 1 } : {}) });
  }

  async remove(segment: string, file: string): Promise<void> {
    const path = this.pathOf(segment, file);
    await rm(path).catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'ENOENT' ? new AppError('NOT_FOUND', `the archive holds no ${segment}/${file}`) : e;
    });
  }

  async state(): Promise<ArchiveState> {
    return readJsonFile<ArchiveState>(join(this.root, STATE)) ?? { caughtUpAt: null };
  }

  async setState(state: ArchiveState): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    await writeJsonFile(join(this.root, STATE), state);
  }

  async supersede(label: string, segment: string, file: string, keepBytes: number): Promise<number> {
    const aside = join(this.backups, '_superseded', label);
    let moved = 0;
    for (const s of await this.segments()) {
      if (s.id < segment) continue;
      const dest = join(aside, s.id);
      await mkdir(dest, { recursive: true, mode: 0o700 });
      for (const f of s.files) {
        if (s.id === segment && f.name < file) continue;
        if (s.id === segment && f.name === file) {
          // The file that holds the restored point: the original goes aside, the archive keeps its head.
          await copyFile(this.pathOf(s.id, f.name), join(dest, f.name));
          await truncate(this.pathOf(s.id, f.name), Math.min(keepBytes, f.bytes));
        } else {
          await rename(this.pathOf(s.id, f.name), join(dest, f.name));
        }
        moved++;
      }
      if (s.id > segment) await rename(join(this.root, s.id), join(dest, 'segment'));
    }
    return moved;
  }

  /** The local path of an archived file. INVALID_PARAMS for names outside the archive's rules. */
  pathOf(segment: string, file: string): string {
    if (!SEGMENT.test(segment) || !FILE.test(file)) throw new AppError('INVALID_PARAMS', `not an archived file: ${JSON.stringify(`${segment}/${file}`.slice(0, 200))}`);
    return join(this.root, segment, file);
  }
}
