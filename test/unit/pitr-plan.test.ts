import { describe, expect, it } from 'vitest';
import { BINLOG_MAGIC, newScan, scanBinlog, type BinlogTransaction } from '../../src/manager/archive/binlog-scan.js';
import { seamOf } from '../../src/manager/archive/seams.js';
import { planRestore, type ArchivedFile } from '../../src/manager/core/restore-plan.js';
import type { BackupManifest } from '../../src/protocol/backups.js';

/** One binary log event: the 19-byte header (timestamp, type, server_id, length, next position, flags), the body, a 4-byte checksum. */
function event(type: number, server: number, at: number, body: Buffer): Buffer {
  const h = Buffer.alloc(19);
  h.writeUInt32LE(at, 0);
  h.writeUInt8(type, 4);
  h.writeUInt32LE(server, 5);
  h.writeUInt32LE(19 + body.length + 4, 9);
  return Buffer.concat([h, body, Buffer.alloc(4)]);
}
const gtidEvent = (server: number, seq: number, at: number, standalone = false): Buffer => {
  const b = Buffer.alloc(13);
  b.writeBigUInt64LE(BigInt(seq), 0);
  b.writeUInt32LE(0, 8);
  b.writeUInt8(standalone ? 1 : 0, 12);
  return event(162, server, at, b);
};
const query = (server: number, at: number, text: string): Buffer => {
  const post = Buffer.alloc(13);
  post.writeUInt8(0, 8); // schema length
  post.writeUInt16LE(0, 11); // status variables length
  return event(2, server, at, Buffer.concat([post, Buffer.from('\0'), Buffer.from(text)]));
};
const xid = (server: number, at: number): Buffer => event(16, server, at, Buffer.alloc(8));
const rows = (server: number, at: number): Buffer => event(30, server, at, Buffer.alloc(20));
const gtidList = (entries: Array<[number, number, number]>): Buffer => {
  const b = Buffer.alloc(4 + entries.length * 16);
  b.writeUInt32LE(entries.length, 0);
  entries.forEach(([d, s, q], i) => {
    b.writeUInt32LE(d, 4 + i * 16);
    b.writeUInt32LE(s, 8 + i * 16);
    b.writeBigUInt64LE(BigInt(q), 12 + i * 16);
  });
  return event(163, 1, 100, b);
};

describe('reading a binary log file, event header by event header', () => {
  const file = Buffer.concat([
    BINLOG_MAGIC,
    event(15, 1, 100, Buffer.alloc(80)),
    gtidList([[0, 1, 41]]),
    gtidEvent(1, 42, 101, true),
    query(1, 101, 'CREATE TABLE t (id INT)'),
    gtidEvent(1, 43, 102),
    rows(1, 102),
    xid(1, 102),
    gtidEvent(1, 44, 105),
    query(1, 105, 'BEGIN'),
    rows(1, 105),
    query(1, 105, 'COMMIT'),
  ]);

  it('finds each transaction: its GTID, when it was written, where it begins and ends; the start state', () => {
    const seen: BinlogTransaction[] = [];
    const scan = scanBinlog(newScan(), file, (t) => seen.push(t));
    expect(scan.error).toBeNull();
    expect(scan.startState).toEqual([{ domain: 0, server: 1, seq: 41 }]);
    expect(seen.map((t) => [t.gtid.seq, t.at])).toEqual([[42, 101], [43, 102], [44, 105]]);
    expect(scan).toMatchObject({ count: 3, gap: null, offset: file.length });
    expect(seen[2]!.end).toBe(file.length);
    expect(file.readUInt8(seen[1]!.start + 4)).toBe(162);
  });

  it('reads a file that grows, in pieces cut anywhere, to the same transactions, never one half written', () => {
    for (const cut of [3, 20, 150, 250, file.length - 5]) {
      const seen: number[] = [];
      const scan = newScan();
      scanBinlog(scan, file.subarray(0, cut), (t) => seen.push(t.gtid.seq));
      const resumed = scan.offset;
      expect(resumed).toBeLessThanOrEqual(cut);
      scanBinlog(scan, file.subarray(resumed), (t) => seen.push(t.gtid.seq));
      expect(seen, `cut at ${cut}`).toEqual([42, 43, 44]);
      expect(scan.offset).toBe(file.length);
    }
  });

  it('names a skip in the sequence numbers, a file that is not a binary log, an event shorter than its header', () => {
    const skipped = Buffer.concat([BINLOG_MAGIC, gtidEvent(1, 5, 1, true), query(1, 1, 'DROP TABLE x'), gtidEvent(1, 7, 2, true), query(1, 2, 'DROP TABLE y')]);
    expect(scanBinlog(newScan(), skipped).gap).toBe('0-1-5 then 0-1-7');
    expect(scanBinlog(newScan(), Buffer.from('not a binlog at all')).error).toMatch(/magic/);
    const bad = Buffer.concat([BINLOG_MAGIC, Buffer.alloc(19)]);
    expect(scanBinlog(newScan(), bad).error).toMatch(/shorter than its header/);
  });
});

const backup = (id: string, endedAt: string, gtid: string): BackupManifest => ({
  id, kind: 'full', parent: null, startedAt: endedAt, endedAt, gtid, sourceNode: 'node-2', serverVersion: '10.11', compression: 'zstd', bytes: 1, sha256: 'x',
});
const T0 = Date.parse('2026-11-29T12:00:00Z') / 1000;
const file = (segment: string, name: string, server: number, first: [number, number], last: [number, number], gap: string | null = null): ArchivedFile => ({
  segment, name, first: { gtid: { domain: 0, server, seq: first[0] }, at: T0 + first[1] }, last: { gtid: { domain: 0, server, seq: last[0] }, at: T0 + last[1] }, gap, error: null,
});
const at = (s: number): string => new Date((T0 + s) * 1000).toISOString().replace('.000Z', 'Z');

describe('planning a restore (pure)', () => {
  const backups = [backup('full-a', at(10), '0-1-100'), backup('full-b', at(100), '0-1-500')];
  // s1: the first master's log; s2: the next master's, which repeats history from 0-1-300 on.
  const files = [file('s000001-node-1', 'mariadb-bin.000001', 1, [1, 0], [400, 60]), file('s000001-node-1', 'mariadb-bin.000002', 1, [401, 61], [700, 150]), file('s000002-node-2', 'mariadb-bin.000001', 2, [300, 40], [900, 200])];
  const caught = { at: T0 + 210, gtid: '0-2-900' };
  const now = T0 + 300;

  const cases: Array<[string, { time?: string; backup?: string }, unknown]> = [
    ['a time after the first backup: it, and the first file', { time: at(50) }, { backup: 'full-a', files: [{ segment: 's000001-node-1', name: 'mariadb-bin.000001', maxSeq: null }], until: at(50), cut: { segment: 's000001-node-1', name: 'mariadb-bin.000001' } }],
    ['a time after the second backup: the newer one, and what follows it', { time: at(160) }, { backup: 'full-b', files: [{ segment: 's000001-node-1', name: 'mariadb-bin.000002', maxSeq: null }, { segment: 's000002-node-2', name: 'mariadb-bin.000001', maxSeq: null }], until: at(160), cut: { segment: 's000002-node-2', name: 'mariadb-bin.000001' } }],
    ['the end: the newest backup and every file with something past it', {}, { backup: 'full-b', files: [{ segment: 's000001-node-1', name: 'mariadb-bin.000002', maxSeq: null }, { segment: 's000002-node-2', name: 'mariadb-bin.000001', maxSeq: null }], until: null, cut: null }],
    ['a backup named, to the end', { backup: 'full-a' }, { backup: 'full-a', files: [{ segment: 's000001-node-1', name: 'mariadb-bin.000001', maxSeq: null }, { segment: 's000001-node-1', name: 'mariadb-bin.000002', maxSeq: null }, { segment: 's000002-node-2', name: 'mariadb-bin.000001', maxSeq: null }], until: null }],
    ['a time after the last catch-up', { time: at(250) }, { refused: expect.stringMatching(/after the last recoverable time \(2026-11-29T12:03:30Z\)/) }],
    ['a time before the first backup', { time: at(5) }, { refused: expect.stringMatching(/before the recoverable window/) }],
    ['a time in the future', { time: at(400) }, { refused: expect.stringMatching(/in the future/) }],
    ['a backup that does not exist', { backup: 'full-z' }, { refused: expect.stringMatching(/no backup full-z \(backups: full-a, full-b\)/) }],
    ['a backup that ended after the time', { backup: 'full-b', time: at(50) }, { refused: expect.stringMatching(/ended at .* after/) }],
  ];
  for (const [name, request, want] of cases) {
    it(name, () => expect(planRestore(request, backups, files, caught, now)).toMatchObject(want as object));
  }

  it('builds on the incrementals of the chosen full backup that ended by the target, and replays from the last one', () => {
    const incr = (id: string, parent: string, endedAt: string, gtid: string): BackupManifest => ({ ...backup(id, endedAt, gtid), kind: 'incremental', parent });
    const withIncr = [...backups, incr('incr-1', 'full-a', at(30), '0-1-200'), incr('incr-2', 'incr-1', at(55), '0-1-380')];
    expect(planRestore({ time: at(50) }, withIncr, files, caught, now)).toMatchObject({ backup: 'full-a', incrementals: ['incr-1'], backupGtid: '0-1-200' });
    expect(planRestore({ time: at(60) }, withIncr, files, caught, now)).toMatchObject({ backup: 'full-a', incrementals: ['incr-1', 'incr-2'], backupGtid: '0-1-380' });
    expect(planRestore({ time: at(20) }, withIncr, files, caught, now)).toMatchObject({ backup: 'full-a', incrementals: [], backupGtid: '0-1-100' });
    expect(planRestore({ backup: 'incr-1' }, withIncr, files, caught, now)).toEqual({ refused: expect.stringMatching(/incr-1 is incremental: name the full backup it belongs to \(full-a\)/) });
  });

  it('refuses a gap: transactions no archived file holds, named', () => {
    const holed = [files[0]!, file('s000001-node-1', 'mariadb-bin.000003', 1, [800, 170], [950, 205])];
    expect(planRestore({ time: at(200) }, backups, holed, caught, now)).toEqual({ refused: expect.stringMatching(/misses transactions 0-\*-501 to 0-\*-799/) });
  });

  it('refuses a restore to the end when the files do not reach the last catch-up (a file lost)', () => {
    expect(planRestore({}, backups, files.slice(0, 2), caught, now)).toEqual({ refused: expect.stringMatching(/misses transactions 0-\*-701 to 0-2-900/) });
  });

  it('refuses a file that skips inside, or that cannot be read', () => {
    const skipping = [{ ...files[0]!, gap: '0-1-5 then 0-1-7' }];
    expect(planRestore({ backup: 'full-a', time: at(50) }, backups, skipping, caught, now)).toEqual({ refused: expect.stringMatching(/skips transactions \(0-1-5 then 0-1-7\)/) });
    expect(planRestore({ time: at(50) }, backups, [{ ...files[0]!, error: 'not a binary log (no magic number)' }], caught, now)).toEqual({ refused: expect.stringMatching(/cannot be read: not a binary log/) });
  });

  it("stops a lost master's segment at its seam: its orphans are not replayed", () => {
    const plan = planRestore({}, backups, files, caught, now, { 's000001-node-1': { 0: 650 } });
    expect(plan).toMatchObject({ files: [{ name: 'mariadb-bin.000002', maxSeq: 650 }, { segment: 's000002-node-2', maxSeq: null }] });
  });
});

describe('the seam between two masters\' segments (pure)', () => {
  const tx = (server: number, seq: number) => ({ domain: 0, server, seq });
  it('a switchover: the next master holds the same last transactions; all of the segment is kept', () => {
    expect(seamOf([tx(1, 8), tx(1, 9), tx(1, 10)], [tx(1, 9), tx(1, 10)])).toEqual({ limits: { 0: 10 } });
  });
  it('a failover: the lost master wrote 0-1-10 no replica had; the new one wrote its own 10: the segment stops at 9', () => {
    expect(seamOf([tx(1, 8), tx(1, 9), tx(1, 10)], [tx(1, 8), tx(1, 9), tx(2, 10)])).toEqual({ limits: { 0: 9 } });
  });
  it('the next master began after the tail (a snapshot later): the segment is kept whole', () => {
    expect(seamOf([tx(1, 8), tx(1, 9)], [])).toEqual({ limits: { 0: 9 } });
  });
  it('histories that agree on nothing are named, not joined', () => {
    expect(seamOf([tx(1, 8), tx(1, 9)], [tx(3, 8), tx(3, 9)])).toEqual({ diverged: expect.stringMatching(/domain 0: .*match none/) });
  });
});
