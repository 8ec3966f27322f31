import { mkdtempSync, rmSync } from 'node:fs';
import { open, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { FsBackupStore } from '../../src/store/fs-backup-store.js';
import { backupStoreContract } from './backup-store.contract.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** Where each store keeps its backups. */
const rootOf = new WeakMap<object, string>();
const over = (root: string): FsBackupStore => {
  const s = new FsBackupStore(root);
  rootOf.set(s, root);
  return s;
};

backupStoreContract('the filesystem store', {
  make: async () => {
    const root = mkdtempSync(join(tmpdir(), 'cps-backups-'));
    roots.push(root);
    return over(root);
  },
  reopen: async (s) => over(rootOf.get(s)!),
  truncate: async (s, id, length) => truncate(join(rootOf.get(s)!, id, 'data'), length),
  alter: async (s, id, offset) => {
    const fh = await open(join(rootOf.get(s)!, id, 'data'), 'r+');
    try {
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, offset);
      b[0] = b[0]! ^ 0xff;
      await fh.write(b, 0, 1, offset);
    } finally {
      await fh.close();
    }
  },
});
