import { describe, expect, it } from 'vitest';
import { alignNodes, readWriteMix } from '../../ui/src/chart-data.js';
import { ago, bytes, connectCommand, diskShare, duration, passwordProblem, rate } from '../../ui/src/format.js';
import type { NodeHistory, PerformancePoint } from '../../src/protocol/manager-api.js';

describe('the console’s words and numbers', () => {
  it.each([
    [0, '0 ms'],
    [850, '850 ms'],
    [12_400, '12 s'],
    [185_000, '3 min 5 s'],
    [120_000, '2 min'],
    [7_440_000, '2 h 4 min'],
    [3 * 86_400_000 + 3_600_000, '3 d 1 h'],
    [-1, '—'],
  ])('duration(%d) is %j', (ms, want) => expect(duration(ms)).toBe(want));

  it('ago', () => {
    expect(ago('2026-11-29T12:00:00Z', Date.parse('2026-11-29T12:00:04Z'))).toBe('4 s ago');
    expect(ago(null, 0)).toBe('—');
    expect(ago('not a time', 0)).toBe('—');
  });

  it.each([
    [512, '512 B'],
    [1536, '1.50 KiB'],
    [23.4 * 1024 ** 3, '23.4 GiB'],
    [130 * 1024 ** 2, '130 MiB'],
    [null, '—'],
    [-5, '—'],
  ])('bytes(%j) is %j', (n, want) => expect(bytes(n)).toBe(want));

  it.each([
    [0, '0'],
    [0.25, '0.25/s'],
    [12.5, '12.5/s'],
    [1240.4, '1,240/s'],
    [null, '—'],
  ])('rate(%j) is %j', (n, want) => expect(rate(n)).toBe(want));

  it('the client command asks for the password, never holds it', () => {
    expect(connectCommand('127.0.0.1:3306', 'mysqldb')).toBe('mariadb -h 127.0.0.1 -P 3306 -u mysqldb -p');
    expect(connectCommand('::1:3306', 'u')).toBe('mariadb -h ::1 -P 3306 -u u -p');
    expect(connectCommand(null, 'u')).toBeNull();
    expect(connectCommand('nohost', 'u')).toBeNull();
  });

  it('disk share and password checks', () => {
    expect(diskShare(25, 75)).toBe(0.25);
    expect(diskShare(null, 75)).toBeNull();
    expect(diskShare(0, 0)).toBeNull();
    expect(passwordProblem('short', 'short')).toBe('the password needs at least 8 characters');
    expect(passwordProblem('long enough', 'long enougH')).toBe('the two passwords differ');
    expect(passwordProblem('long enough', 'long enough')).toBeNull();
    expect(passwordProblem('x'.repeat(513), 'x'.repeat(513))).toBe('the password may have at most 512 characters');
  });
});

describe('chart data', () => {
  const point = (at: string, reads: number | null, writes: number | null): PerformancePoint => ({ at, statementsPerSecond: 1, readsPerSecond: reads, writesPerSecond: writes, commitsPerSecond: 0, latencyMs: null, connections: 1 });
  const node = (id: string, points: PerformancePoint[]): NodeHistory => ({ id, role: 'replica', points, disk: null, version: null, semiSyncClients: null });

  it('puts every node on one time axis of 5 s steps (the mean of its points in each), null where a node has none', () => {
    const a = alignNodes(
      [node('node-1', [point('2026-11-29T12:00:00.200Z', 1, 0), point('2026-11-29T12:00:01Z', 3, 0), point('2026-11-29T12:00:07Z', 4, 0)]), node('node-2', [point('2026-11-29T12:00:02Z', 5, 0)])],
      (p) => p.readsPerSecond,
    );
    const t = Date.parse('2026-11-29T12:00:00Z') / 1000;
    expect(a).toEqual({ x: [t, t + 5], labels: ['node-1', 'node-2'], series: [[2, 4], [5, null]] });
  });

  it('sums reads and writes over the nodes at each time', () => {
    const mix = readWriteMix([node('node-1', [point('2026-11-29T12:00:00Z', 1, 2)]), node('node-2', [point('2026-11-29T12:00:00Z', 3, null)])]);
    expect(mix.labels).toEqual(['reads', 'writes']);
    expect(mix.series).toEqual([[4], [2]]);
  });
});
