import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SCRATCH_MIN_FREE_BYTES, TMPFS_MAGIC, fitsInRam, ramScratchRoot } from '../../src/engine/mariadb/ram-scratch.js';
import { syncTree } from '../../src/util/sync-tree.js';

const EXT4_MAGIC = 0xef53;

describe('where a new data directory may be made in RAM (fitsInRam)', () => {
  it.each([
    ['tmpfs with room to spare', { type: TMPFS_MAGIC, bavail: 1_000_000, bsize: 4096 }, true],
    ['tmpfs with exactly the minimum free', { type: TMPFS_MAGIC, bavail: SCRATCH_MIN_FREE_BYTES / 4096, bsize: 4096 }, true],
    ['tmpfs one block short', { type: TMPFS_MAGIC, bavail: SCRATCH_MIN_FREE_BYTES / 4096 - 1, bsize: 4096 }, false],
    ['tmpfs that is full', { type: TMPFS_MAGIC, bavail: 0, bsize: 4096 }, false],
    ['a disk filesystem with room (ext4)', { type: EXT4_MAGIC, bavail: 1e9, bsize: 4096 }, false],
    ['no such directory', null, false],
  ])('%s → %s', (_name, facts, expected) => {
    expect(fitsInRam(facts)).toBe(expected);
  });

  it('ramScratchRoot: a directory that does not exist, or is on disk, is not RAM', () => {
    expect(ramScratchRoot('/nonexistent-cps-scratch')).toBeNull();
    const disk = mkdtempSync(join(tmpdir(), 'cps-scratch-'));
    try {
      const onDisk = spawnSync('stat', ['-f', '-c', '%t', disk], { encoding: 'utf8' }).stdout.trim();
      // Only a tmpfs /tmp could say otherwise; then this directory is RAM indeed.
      expect(ramScratchRoot(disk) === null).toBe(onDisk !== TMPFS_MAGIC.toString(16));
    } finally {
      rmSync(disk, { recursive: true, force: true });
    }
  });
});

describe('syncTree', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('flushes files and directories, skipping links and FIFOs (opening a FIFO would block)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cps-synctree-'));
    dirs.push(root);
    mkdirSync(join(root, 'a', 'b'), { recursive: true });
    writeFileSync(join(root, 'a', 'b', 'f'), 'x');
    writeFileSync(join(root, 'g'), 'y');
    symlinkSync('/nonexistent-target', join(root, 'a', 'dangling'));
    expect(spawnSync('mkfifo', [join(root, 'a', 'fifo')]).status).toBe(0);
    await expect(syncTree(root)).resolves.toBeUndefined();
  });

  it('throws ENOENT for a tree that is not there', async () => {
    await expect(syncTree('/nonexistent-cps-synctree')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
