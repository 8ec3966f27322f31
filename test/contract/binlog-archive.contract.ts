import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BinlogArchive } from '../../src/store/binlog-archive.js';
import { isAppError } from '../../src/util/errors.js';

/** An archive to test. */
export interface BinlogArchiveHarness {
  /** A new, empty archive. */
  make(): Promise<BinlogArchive>;
  /** Another archive object over the same place (what a restarted manager opens). */
  reopen(a: BinlogArchive): Promise<BinlogArchive>;
}

async function text(a: BinlogArchive, segment: string, file: string, start?: number, end?: number): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await a.read(segment, file, start, end)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/** What every BinlogArchive must do (issue #16): segments in the order begun, files as the archiver wrote them, its state kept, a history set aside whole. */
export function binlogArchiveContract(name: string, h: BinlogArchiveHarness): void {
  describe(`BinlogArchive contract: ${name}`, () => {
    it('begins segments in order, lists their files with sizes, reads a file or a part of it, and keeps its state across a reopen', async () => {
      const a = await h.make();
      expect(await a.segments()).toEqual([]);
      expect(await a.state()).toEqual({ caughtUpAt: null });
      const one = await a.begin('node-1', new Date('2026-11-29T12:00:00Z'));
      await writeFile(join(one.dir, 'mariadb-bin.000001'), 'first file');
      await writeFile(join(one.dir, 'mariadb-bin.000002'), 'second');
      const two = await a.begin('node-2', new Date('2026-11-29T12:05:00Z'));
      await writeFile(join(two.dir, 'mariadb-bin.000001'), 'the next master');
      await a.setState({ caughtUpAt: '2026-11-29T12:06:00.000Z', caughtUpGtid: '0-2-9' });
      const again = await h.reopen(a);
      const segs = await again.segments();
      expect(segs.map((s) => [s.node, s.startedAt, s.files])).toEqual([
        ['node-1', '2026-11-29T12:00:00.000Z', [{ name: 'mariadb-bin.000001', bytes: 10 }, { name: 'mariadb-bin.000002', bytes: 6 }]],
        ['node-2', '2026-11-29T12:05:00.000Z', [{ name: 'mariadb-bin.000001', bytes: 15 }]],
      ]);
      expect(segs[0]!.id < segs[1]!.id).toBe(true);
      expect(await text(again, segs[0]!.id, 'mariadb-bin.000001')).toBe('first file');
      expect(await text(again, segs[0]!.id, 'mariadb-bin.000001', 6, 10)).toBe('file');
      expect(await again.state()).toEqual({ caughtUpAt: '2026-11-29T12:06:00.000Z', caughtUpGtid: '0-2-9' });
    });

    it('sets aside what follows a point: the rest of that file, the later files and segments; the head stays', async () => {
      const a = await h.make();
      const one = await a.begin('node-1', new Date('2026-11-29T12:00:00Z'));
      await writeFile(join(one.dir, 'mariadb-bin.000001'), 'keep');
      await writeFile(join(one.dir, 'mariadb-bin.000002'), 'keep-then-drop');
      await writeFile(join(one.dir, 'mariadb-bin.000003'), 'drop');
      const two = await a.begin('node-2', new Date('2026-11-29T12:05:00Z'));
      await writeFile(join(two.dir, 'mariadb-bin.000001'), 'drop too');
      const [s1] = await a.segments();
      expect(await a.supersede('restore-1', s1!.id, 'mariadb-bin.000002', 4)).toBe(3);
      const segs = await a.segments();
      expect(segs.map((s) => s.files)).toEqual([[{ name: 'mariadb-bin.000001', bytes: 4 }, { name: 'mariadb-bin.000002', bytes: 4 }]]);
      expect(await text(a, s1!.id, 'mariadb-bin.000002')).toBe('keep');
      // A new segment after that one takes the next number: it sorts after the kept one.
      const three = await a.begin('node-3', new Date('2026-11-29T12:10:00Z'));
      expect(three.segment.id > s1!.id).toBe(true);
    });

    it('refuses names outside its rules and answers NOT_FOUND for a file it does not hold', async () => {
      const a = await h.make();
      const one = await a.begin('node-1', new Date());
      const code = async (p: Promise<unknown>): Promise<string | null> => p.then(() => null, (e: unknown) => (isAppError(e) ? e.code : String(e)));
      expect(await code(a.read(one.segment.id, 'mariadb-bin.000009'))).toBe('NOT_FOUND');
      expect(await code(a.read('../../etc', 'passwd'))).toBe('INVALID_PARAMS');
      expect(await code(a.read(one.segment.id, '../segment.json'))).toBe('INVALID_PARAMS');
    });
  });
}
