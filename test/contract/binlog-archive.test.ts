import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { FsBinlogArchive } from '../../src/store/fs-binlog-archive.js';
import { binlogArchiveContract } from './binlog-archive.contract.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});
const rootOf = new WeakMap<object, string>();
const over = (root: string): FsBinlogArchive => {
  const a = new FsBinlogArchive(root);
  rootOf.set(a, root);
  return a;
};

binlogArchiveContract('the filesystem archive', {
  make: async () => {
    const root = mkdtempSync(join(tmpdir(), 'cps-archive-'));
    roots.push(root);
    return over(root);
  },
  reopen: async (a) => over(rootOf.get(a)!),
});
