import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SnapshotShare, type ShareLimits } from '../../src/agent/snapshot-share.js';
import { isAppError } from '../../src/util/errors.js';

const LIMITS: ShareLimits = { joinWaitMs: 60, bufferBytes: 1024, stallMs: 120 };

/** A copy we feed by hand, and how often it was opened. */
function fakeCopy(): { open: () => Readable; sources: PassThrough[] } {
  const sources: PassThrough[] = [];
  return {
    sources,
    open: () => {
      const s = new PassThrough({ highWaterMark: 1024 });
      sources.push(s);
      return s;
    },
  };
}

/** Reads a stream to its end: the bytes, or the error it failed with. */
async function drain(r: Readable): Promise<{ bytes: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of r) chunks.push(c as Buffer);
    return { bytes: Buffer.concat(chunks), error: null };
  } catch (error) {
    return { bytes: Buffer.concat(chunks), error };
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Feeds `total` bytes in 512-byte pieces, honouring the source's back-pressure, then ends it. */
async function feed(src: PassThrough, total: number): Promise<Buffer> {
  const all = Buffer.alloc(total);
  for (let i = 0; i < total; i++) all[i] = i % 251;
  for (let off = 0; off < total; off += 512) {
    if (!src.write(all.subarray(off, off + 512))) await new Promise((r) => src.once('drain', r));
  }
  src.end();
  return all;
}

const codeOf = (e: unknown): string | null => (isAppError(e) ? e.code : null);

/** The error `fn` throws, or null. */
function catchOf(fn: () => unknown): unknown {
  try {
    fn();
    return null;
  } catch (e) {
    return e;
  }
}

describe('SnapshotShare: one copy, several receivers', () => {
  it('a receiver alone starts the copy at once and gets every byte; the node is free after', async () => {
    const copy = fakeCopy();
    const share = new SnapshotShare(copy.open, LIMITS);
    const r = share.join();
    expect(copy.sources).toHaveLength(1);
    expect(share.busy).toBe(true);
    const [got, sent] = await Promise.all([drain(r), feed(copy.sources[0]!, 20_000)]);
    expect(got.error).toBeNull();
    expect(got.bytes.equals(sent)).toBe(true);
    await sleep(5);
    expect(share.busy).toBe(false);
  });

  it('a copy sent by other means holds the node: every join is BUSY until it is released, and a reservation on a busy node is BUSY', async () => {
    const copy = fakeCopy();
    const share = new SnapshotShare(copy.open, LIMITS);
    const slot = share.reserve();
    expect(share.busy).toBe(true);
    expect(codeOf(catchOf(() => share.join()))).toBe('BUSY');
    expect(codeOf(catchOf(() => share.join({ key: 'g', receivers: 2 })))).toBe('BUSY');
    expect(codeOf(catchOf(() => share.reserve()))).toBe('BUSY');
    expect(copy.sources).toHaveLength(0);
    slot.release();
    expect(share.busy).toBe(false);
    const r = share.join();
    expect(codeOf(catchOf(() => share.reserve()))).toBe('BUSY');
    const [got] = await Promise.all([drain(r), feed(copy.sources[0]!, 2000)]);
    expect(got.error).toBeNull();
  });

  it('a group of three reads the copy once, when the third joins, and each gets the same bytes', async () => {
    const copy = fakeCopy();
    const starts: number[] = [];
    const share = new SnapshotShare(copy.open, LIMITS, { started: (n) => starts.push(n) });
    const group = { key: 'group-aaaa', receivers: 3 };
    const a = share.join(group);
    const b = share.join(group);
    expect(copy.sources).toHaveLength(0);
    const c = share.join(group);
    expect(copy.sources).toHaveLength(1);
    expect(starts).toEqual([3]);
    const [ga, gb, gc, sent] = await Promise.all([drain(a), drain(b), drain(c), feed(copy.sources[0]!, 50_000)]);
    for (const g of [ga, gb, gc]) {
      expect(g.error).toBeNull();
      expect(g.bytes.equals(sent)).toBe(true);
    }
  });

  it('a group that does not fill starts without the missing after the join wait; a latecomer is BUSY', async () => {
    const copy = fakeCopy();
    const share = new SnapshotShare(copy.open, LIMITS);
    const group = { key: 'group-bbbb', receivers: 3 };
    const a = share.join(group);
    const b = share.join(group);
    await sleep(LIMITS.joinWaitMs + 40);
    expect(copy.sources).toHaveLength(1);
    let late: unknown = null;
    try {
      share.join(group);
    } catch (e) {
      late = e;
    }
    expect(codeOf(late)).toBe('BUSY');
    const [ga, gb, sent] = await Promise.all([drain(a), drain(b), feed(copy.sources[0]!, 8_000)]);
    expect(ga.bytes.equals(sent) && gb.bytes.equals(sent)).toBe(true);
  });

  it('another group, another copy, or a different incremental base, is BUSY while a group gathers', () => {
    const copy = fakeCopy();
    const share = new SnapshotShare(copy.open, LIMITS);
    share.join({ key: 'group-cccc', receivers: 2 }, 100);
    const refused = [() => share.join({ key: 'group-dddd', receivers: 2 }, 100), () => share.join(), () => share.join({ key: 'group-cccc', receivers: 2 }, 200)];
    for (const f of refused) expect(() => f()).toThrow(/streaming another snapshot/);
    expect(copy.sources).toHaveLength(0);
  });

  it('a receiver that stops reading is cut off (PEER_FAILED) once its buffer stays full while another reads; the other gets everything', async () => {
    const copy = fakeCopy();
    const cuts: string[] = [];
    const share = new SnapshotShare(copy.open, LIMITS, { cut: (why) => cuts.push(why) });
    const group = { key: 'group-eeee', receivers: 2 };
    const fast = share.join(group);
    const slow = share.join(group);
    const slowDone = new Promise<unknown>((resolve) => slow.once('error', resolve).once('close', () => resolve(null)));
    const [gf, sent, slowError] = await Promise.all([drain(fast), feed(copy.sources[0]!, 40_000), slowDone]);
    expect(gf.error).toBeNull();
    expect(gf.bytes.equals(sent)).toBe(true);
    expect(codeOf(slowError)).toBe('PEER_FAILED');
    expect(String((slowError as Error).message)).toMatch(/ask again alone/);
    expect(cuts).toHaveLength(1);
  });

  it('when every receiver is slow (the machine is the limit) nobody is cut: the copy waits', async () => {
    const copy = fakeCopy();
    const share = new SnapshotShare(copy.open, LIMITS);
    const group = { key: 'group-ffff', receivers: 2 };
    const a = share.join(group);
    const b = share.join(group);
    const fed = feed(copy.sources[0]!, 20_000);
    await sleep(LIMITS.stallMs * 3);
    const [ga, gb, sent] = await Promise.all([drain(a), drain(b), fed]);
    expect(ga.error).toBeNull();
    expect(gb.error).toBeNull();
    expect(ga.bytes.equals(sent) && gb.bytes.equals(sent)).toBe(true);
  });

  it('a receiver that goes away is dropped; when none is left the copy is stopped and the node freed', async () => {
    const copy = fakeCopy();
    const share = new SnapshotShare(copy.open, LIMITS);
    const group = { key: 'group-gggg', receivers: 2 };
    const a = share.join(group);
    const b = share.join(group);
    const src = copy.sources[0]!;
    src.write(Buffer.alloc(100));
    a.destroy();
    const fed = feed(src, 5_000).catch(() => null);
    const gb = await drain(b);
    expect(gb.error).toBeNull();
    expect(gb.bytes.length).toBe(5_100);
    await fed;

    const copy2 = fakeCopy();
    const share2 = new SnapshotShare(copy2.open, LIMITS);
    const only = share2.join({ key: 'group-hhhh', receivers: 2 });
    await sleep(LIMITS.joinWaitMs + 20);
    only.destroy();
    await sleep(10);
    expect(copy2.sources[0]!.destroyed).toBe(true);
    expect(share2.busy).toBe(false);
  });

  it('receivers that all leave before the copy starts free the node without opening it', async () => {
    const copy = fakeCopy();
    const share = new SnapshotShare(copy.open, LIMITS);
    share.join({ key: 'group-iiii', receivers: 3 }).destroy();
    await sleep(10);
    expect(share.busy).toBe(false);
    await sleep(LIMITS.joinWaitMs + 20);
    expect(copy.sources).toHaveLength(0);
  });

  it('a copy that cannot start fails its receivers with the reason and frees the node', async () => {
    const share = new SnapshotShare(() => {
      throw new Error('mariadb-backup: not found');
    }, LIMITS);
    const group = { key: 'group-kkkk', receivers: 2 };
    const a = share.join(group);
    const b = share.join(group);
    const [ga, gb] = await Promise.all([drain(a), drain(b)]);
    expect(String(ga.error)).toMatch(/not found/);
    expect(String(gb.error)).toMatch(/not found/);
    expect(share.busy).toBe(false);
  });

  it('a copy that fails fails every receiver with its error; one that stops short is never taken as whole', async () => {
    const copy = fakeCopy();
    const share = new SnapshotShare(copy.open, LIMITS);
    const group = { key: 'group-jjjj', receivers: 2 };
    const a = share.join(group);
    const b = share.join(group);
    copy.sources[0]!.write(Buffer.alloc(10));
    setTimeout(() => copy.sources[0]!.destroy(new Error('mariadb-backup exited with code 1')), 10);
    const [ga, gb] = await Promise.all([drain(a), drain(b)]);
    expect(String(ga.error)).toMatch(/exited with code 1/);
    expect(String(gb.error)).toMatch(/exited with code 1/);

    const copy2 = fakeCopy();
    const share2 = new SnapshotShare(copy2.open, LIMITS);
    const c = share2.join();
    setTimeout(() => copy2.sources[0]!.destroy(), 10);
    const gc = await drain(c);
    expect(codeOf(gc.error)).toBe('PEER_FAILED');
  });
});
