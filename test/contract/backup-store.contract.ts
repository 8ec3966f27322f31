import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { BackupFacts } from '../../src/protocol/backups.js';
import type { BackupStore } from '../../src/store/backup-store.js';
import { isAppError } from '../../src/util/errors.js';

/** A store to test, and how to damage a stored backup's bytes (as a disk or an operator would). */
export interface BackupStoreHarness {
  /** A new, empty store. */
  make(): Promise<BackupStore>;
  /** Another store object over the same place as `store` (what a restarted manager would open). */
  reopen(store: BackupStore): Promise<BackupStore>;
  /** Cuts a stored backup's bytes to `length`. */
  truncate(store: BackupStore, id: string, length: number): Promise<void>;
  /** Flips one byte of a stored backup at `offset`. */
  alter(store: BackupStore, id: string, offset: number): Promise<void>;
}

const facts = (startedAt: string, over: Partial<BackupFacts> = {}): BackupFacts => ({
  kind: 'full',
  parent: null,
  startedAt,
  endedAt: startedAt,
  gtid: '0-1-42',
  sourceNode: 'node-2',
  serverVersion: '10.11.19-MariaDB',
  compression: 'zstd',
  ...over,
});

/** Writes `data` as backup `id` and commits it. */
async function put(store: BackupStore, id: string, data: Buffer, startedAt = '2026-11-29T12:00:00.000Z') {
  const w = await store.begin(id);
  await pipeline(Readable.from([data.subarray(0, 3), data.subarray(3)]), w.stream);
  return w.commit(facts(startedAt));
}

async function readAll(store: BackupStore, id: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await store.read(id)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function codeOf(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (e) {
    return isAppError(e) ? e.code : `not an AppError: ${String(e)}`;
  }
}

/** What every BackupStore must do (issue #16: nothing half-written ever looks complete; damage is found). */
export function backupStoreContract(name: string, h: BackupStoreHarness): void {
  describe(`BackupStore contract: ${name}`, () => {
    const data = Buffer.from('xbstream bytes, compressed by the producer; any bytes will do \u0000\u00ff'.repeat(50));

    it('a committed backup is listed with its facts, its size and its SHA-256, and reads back byte for byte', async () => {
      const s = await h.make();
      const m = await put(s, 'full-1', data);
      expect(m).toMatchObject({ id: 'full-1', kind: 'full', gtid: '0-1-42', bytes: data.length });
      expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(await s.list()).toEqual([m]);
      expect(await s.get('full-1')).toEqual(m);
      expect((await readAll(s, 'full-1')).equals(data)).toBe(true);
    });

    it('nothing is listed before commit, nor after abort, nor after a writer that died (cleanup removes its remains)', async () => {
      const s = await h.make();
      const w = await s.begin('b-1');
      w.stream.write(data);
      expect(await s.list()).toEqual([]);
      expect(await codeOf(s.get('b-1'))).toBe('NOT_FOUND');
      // Being written: cleanup leaves it, and the id is taken.
      expect(await s.cleanup()).toBe(0);
      expect(await codeOf(s.begin('b-1'))).toBe('WRONG_STATE');
      await w.abort();
      expect(await s.list()).toEqual([]);
      // The id is free again once aborted.
      await (await s.begin('b-1')).abort();
      // A writer whose process died: a store opened again over the same place lists nothing of it,
      // and its cleanup removes the remains (the id is free again).
      const dying = await s.begin('b-2');
      await new Promise<void>((resolve) => dying.stream.write(data, () => resolve()));
      const after = await h.reopen(s);
      expect(await after.list()).toEqual([]);
      expect(await after.cleanup()).toBe(1);
      expect(await after.cleanup()).toBe(0);
      await (await after.begin('b-2')).abort();
      await dying.abort();
    });

    it('orders backups by start time, and deletes one (then it is gone)', async () => {
      const s = await h.make();
      await put(s, 'late', data, '2026-11-29T13:00:00.000Z');
      await put(s, 'early', data, '2026-11-29T11:00:00.000Z');
      expect((await s.list()).map((m) => m.id)).toEqual(['early', 'late']);
      await s.delete('early');
      expect((await s.list()).map((m) => m.id)).toEqual(['late']);
      expect(await codeOf(s.read('early'))).toBe('NOT_FOUND');
      expect(await codeOf(s.delete('early'))).toBe('NOT_FOUND');
    });

    it('a backup set aside is no longer listed, read or deleted, survives a reopen and a cleanup; an unknown one is NOT_FOUND', async () => {
      const s = await h.make();
      await put(s, 'kept', data, '2026-11-29T11:00:00.000Z');
      await put(s, 'left', data, '2026-11-29T13:00:00.000Z');
      await s.setAside('left', 'restore-20261129T120000Z');
      expect((await s.list()).map((m) => m.id)).toEqual(['kept']);
      expect(await codeOf(s.read('left'))).toBe('NOT_FOUND');
      expect(await codeOf(s.setAside('left', 'again'))).toBe('NOT_FOUND');
      const again = await h.reopen(s);
      expect(await again.cleanup()).toBe(0);
      expect((await again.list()).map((m) => m.id)).toEqual(['kept']);
      expect((await readAll(again, 'kept')).equals(data)).toBe(true);
      // A new backup may take the id again: the one set aside is out of the way.
      await put(again, 'left', data, '2026-11-29T14:00:00.000Z');
      expect((await again.list()).map((m) => m.id)).toEqual(['kept', 'left']);
    });

    it('a truncated or an altered backup fails as it is read, with CORRUPT naming what is wrong', async () => {
      const s = await h.make();
      await put(s, 'cut', data);
      await put(s, 'flipped', data);
      await h.truncate(s, 'cut', data.length - 10);
      await h.alter(s, 'flipped', 100);
      const cut = await readAll(s, 'cut').catch((e: unknown) => e);
      expect(isAppError(cut) && cut.code).toBe('CORRUPT');
      expect((cut as Error).message).toMatch(/truncated/);
      const flipped = await readAll(s, 'flipped').catch((e: unknown) => e);
      expect(isAppError(flipped) && flipped.code).toBe('CORRUPT');
      expect((flipped as Error).message).toMatch(/SHA-256/);
    });

    it('refuses ids against the rule and a second backup by the same id; a commit before the stream ended', async () => {
      const s = await h.make();
      for (const bad of ['', '../x', 'a/b', '.hidden', 'x'.repeat(101)]) expect(await codeOf(s.begin(bad))).toBe('INVALID_PARAMS');
      await put(s, 'once', data);
      expect(await codeOf(s.begin('once'))).toBe('WRONG_STATE');
      const w = await s.begin('open');
      w.stream.write(data);
      expect(await codeOf(w.commit(facts('2026-11-29T12:00:00.000Z')))).toBe('WRONG_STATE');
      await w.abort();
    });
  });
}
