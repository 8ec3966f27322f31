import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XbstreamCatcher } from '../../src/util/xbstream.js';

/** One xbstream chunk as mariadb-backup writes it (the CRC is not checked by the reader: 0 here). */
function chunk(path: string, type: 'P' | 'E', payload: Uint8Array = Buffer.alloc(0), offset = 0): Buffer {
  const p = Buffer.from(path, 'utf8');
  const head = Buffer.alloc(14);
  head.write('XBSTCK01', 0, 'latin1');
  head[8] = 0;
  head[9] = type.charCodeAt(0);
  head.writeUInt32LE(p.length, 10);
  if (type === 'E') return Buffer.concat([head, p]);
  const tail = Buffer.alloc(20);
  tail.writeBigUInt64LE(BigInt(payload.length), 0);
  tail.writeBigUInt64LE(BigInt(offset), 8);
  return Buffer.concat([head, p, tail, payload]);
}

/** A stream of files, each in chunks of at most `size` bytes, their chunks interleaved file by file. */
function stream(files: [string, Buffer][], size: number): Buffer {
  const out: Uint8Array[] = [];
  for (const [path, data] of files) {
    for (let at = 0; at < data.length; at += size) out.push(chunk(path, 'P', data.subarray(at, at + size), at));
    out.push(chunk(path, 'E'));
  }
  return Buffer.concat(out);
}

/** Feeds `bytes` to a catcher in pieces cut at `cuts`. */
function feed(c: XbstreamCatcher, bytes: Buffer, cuts: number[]): void {
  let from = 0;
  for (const cut of [...cuts.map((x) => x % (bytes.length + 1))].sort((a, b) => a - b)) {
    c.push(bytes.subarray(from, Math.max(from, cut)));
    from = Math.max(from, cut);
  }
  c.push(bytes.subarray(from));
}

describe('reading xbstream as it passes', () => {
  it('keeps the wanted files whole, however the stream and its chunks are cut', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z_./]{1,30}$/), fc.uint8Array({ maxLength: 300 })), { selector: ([p]) => p, maxLength: 6 }),
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (raw, size, cuts) => {
          const files = [...raw.map(([p, d]) => [p, Buffer.from(d)] as [string, Buffer]), ['mariadb_backup_binlog_info', Buffer.from('mariadb-bin.000002\t342\t0-1-42\n')] as [string, Buffer]];
          const c = new XbstreamCatcher(new Set(['mariadb_backup_binlog_info', files[0]![0]]));
          feed(c, stream(files, size), cuts);
          expect(c.error).toBeNull();
          expect(c.complete).toBe(true);
          expect(c.files.get('mariadb_backup_binlog_info')!.toString()).toBe('mariadb-bin.000002\t342\t0-1-42\n');
          expect(c.files.get(files[0]![0])!.equals(files[0]![1])).toBe(true);
          expect(c.files.size).toBe(files[0]![0] === 'mariadb_backup_binlog_info' ? 1 : 2);
        },
      ),
      { seed: 20261129, numRuns: 300 },
    );
  });

  it('a stream cut short is not complete; a file never ended is not kept', () => {
    const whole = stream([['a', Buffer.from('hello')]], 2);
    const c = new XbstreamCatcher(new Set(['a']));
    c.push(whole.subarray(0, whole.length - 3));
    expect(c.complete).toBe(false);
    expect(c.files.has('a')).toBe(false);
  });

  it.each([
    ['bytes that are not xbstream', Buffer.from('-- MariaDB dump 10.19\nCREATE TABLE t (id INT);\n'), /not an xbstream/],
    ['an unknown chunk type', Buffer.concat([Buffer.from('XBSTCK01\u0000Z', 'latin1'), Buffer.from([1, 0, 0, 0]), Buffer.from('a')]), /type "Z"/],
    ['a wanted file over the limit', stream([['big', Buffer.alloc(100)]], 10), /big in the xbstream is over 50 bytes/],
  ])('sets an error for %s', (_n, bytes, message) => {
    const c = new XbstreamCatcher(new Set(['big']), 50);
    c.push(bytes);
    expect(c.error).toMatch(message);
    expect(c.complete).toBe(false);
  });
});
