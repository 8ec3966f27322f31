import fc from 'fast-check';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { coalesce } from '../../src/util/coalesce.js';

/** Runs `chunks` through coalesce(min) and returns the pieces it wrote, in order. */
async function through(chunks: Buffer[], min: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, done) {
      out.push(c);
      done();
    },
  });
  await pipeline(Readable.from(chunks, { objectMode: false }), coalesce(min), sink);
  return out;
}

describe('coalesce: bytes gathered into larger writes', () => {
  it('passes every byte on, in order, in pieces of at least the minimum but the last', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 40 }), fc.integer({ min: 1, max: 1000 }), async (arrays, min) => {
        const chunks = arrays.map((a) => Buffer.from(a));
        const out = await through(chunks, min);
        expect(Buffer.concat(out).equals(Buffer.concat(chunks))).toBe(true);
        for (const piece of out.slice(0, -1)) expect(piece.length).toBeGreaterThanOrEqual(min);
        // Never more than the minimum plus the chunk that crossed it.
        for (const piece of out) expect(piece.length).toBeLessThan(min + 300);
        expect(out.every((p) => p.length > 0)).toBe(true);
      }),
    );
  });

  it('writes 16 KiB records as 1 MiB pieces: 128 records, 2 writes', async () => {
    const records = Array.from({ length: 128 }, (_, i) => Buffer.alloc(16 * 1024, i));
    const out = await through(records, 1 << 20);
    expect(out.map((p) => p.length)).toEqual([1 << 20, 1 << 20]);
  });

  it('an empty stream writes nothing; a short one writes once, at its end', async () => {
    expect(await through([], 1024)).toEqual([]);
    expect((await through([Buffer.from('abc')], 1024)).map((b) => b.toString())).toEqual(['abc']);
  });

  it('a source that fails fails the pipeline with its error', async () => {
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(10));
        this.destroy(new Error('cut'));
      },
    });
    const sink = new Writable({ write: (_c, _e, done) => done() });
    await expect(pipeline(failing, coalesce(1024), sink)).rejects.toThrow('cut');
  });
});
