import { describe, expect, it } from 'vitest';
import { backupDue, backupSource, backupsToPrune, chainFor } from '../../src/manager/core/backup-plan.js';
import { node, snapshot } from '../helpers/snapshots.js';
import type { BackupManifest } from '../../src/protocol/backups.js';

/** A backup that ended at hour `h` of 2026-11-29 (UTC). */
const b = (id: string, h: number, parent: string | null = null): BackupManifest => ({
  id,
  kind: parent === null ? 'full' : 'incremental',
  parent,
  startedAt: `2026-11-29T${String(h).padStart(2, '0')}:00:00.000Z`,
  endedAt: `2026-11-29T${String(h).padStart(2, '0')}:05:00.000Z`,
  gtid: `0-1-${h}`,
  sourceNode: 'node-2',
  serverVersion: 'test',
  compression: 'zstd',
  bytes: 1,
  sha256: '0'.repeat(64),
});
const at = (h: number, m = 30) => Date.parse(`2026-11-29T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00.000Z`);

// Fulls at 1, 5, 9; incrementals on 1 (at 2, 3), on 5 (at 6), on 9 (at 10).
const ALL = [b('f1', 1), b('i2', 2, 'f1'), b('i3', 3, 'i2'), b('f5', 5), b('i6', 6, 'f5'), b('f9', 9), b('i10', 10, 'f9')];

describe('the chain a restore to a time starts from', () => {
  it.each([
    ['before any backup ended: none (outside the window)', at(0), null],
    ['just after the first full', at(1, 10), ['f1']],
    ['after its incrementals', at(3, 10), ['f1', 'i2', 'i3']],
    ['after the second full (its chain, not the first)', at(5, 10), ['f5']],
    ['at the very end of an incremental', Date.parse('2026-11-29T06:05:00.000Z'), ['f5', 'i6']],
    ['a second before it ended', Date.parse('2026-11-29T06:04:59.000Z'), ['f5']],
    ['after everything', at(23), ['f9', 'i10']],
  ])('%s', (_n, time, want) => {
    const c = chainFor(ALL, time);
    expect(c === null ? null : [c.full.id, ...c.incrementals.map((i) => i.id)]).toEqual(want);
  });

  it('an incremental whose parent is missing breaks the chain there', () => {
    const c = chainFor([b('f1', 1), b('i3', 3, 'i2')], at(4));
    expect(c?.incrementals).toEqual([]);
  });
});

describe('retention: keep N full backups, and what the recoverable window needs', () => {
  it.each([
    ['keep 1, no archive: only the newest chain stays', 1, null, ['f1', 'i2', 'i3', 'f5', 'i6']],
    ['keep 2, no archive', 2, null, ['f1', 'i2', 'i3']],
    ['keep 3: nothing goes', 3, null, []],
    ['keep 1, archive from 04:00: the chain of f1 restores 04:00, so it stays', 1, at(4, 0), ['f5', 'i6']],
    ['keep 1, archive from 07:00: f5 restores 07:00', 1, at(7, 0), ['f1', 'i2', 'i3']],
    ['keep 0 still keeps the newest full backup', 0, null, ['f1', 'i2', 'i3', 'f5', 'i6']],
  ])('%s', (_n, keep, archiveFrom, want) => {
    expect(backupsToPrune(ALL, keep, archiveFrom)).toEqual(want);
  });

  it('an orphaned incremental (its full backup gone) is pruned', () => {
    expect(backupsToPrune([b('i2', 2, 'f1'), b('f5', 5)], 1, null)).toEqual(['i2']);
  });

  it('whatever is pruned, every time from the archive start on still has a chain', () => {
    for (const keep of [0, 1, 2]) {
      for (const from of [at(1, 10), at(4), at(6), at(11)]) {
        const pruned = new Set(backupsToPrune(ALL, keep, from));
        const left = ALL.filter((x) => !pruned.has(x.id));
        for (let h = 1; h <= 23; h++) {
          const t = at(h);
          if (t < from) continue;
          const before = chainFor(ALL, t);
          if (before === null) continue;
          expect(chainFor(left, t), `keep ${keep}, archive from ${new Date(from).toISOString()}, restore to ${new Date(t).toISOString()}`).not.toBeNull();
        }
      }
    }
  });
});

describe('where a backup is taken from', () => {
  it.each([
    ['a caught-up replica, not the master', [node('node-1', 'master'), node('node-2', 'replica', { lagSeconds: 0 }), node('node-3', 'replica', { lagSeconds: 0 })], { id: 'node-2' }],
    ['the least behind', [node('node-1', 'master'), node('node-2', 'replica', { lagSeconds: 1 }), node('node-3', 'replica', { lagSeconds: 0 })], { id: 'node-3' }],
    ['not one whose replication is broken', [node('node-1', 'master'), node('node-2', 'replica', { sqlRunning: 'No', sqlErrno: 1062, replicationError: 'Duplicate' }), node('node-3', 'replica', { lagSeconds: 0 })], { id: 'node-3' }],
    ['the master when it has no replica', [node('node-1', 'master')], { id: 'node-1' }],
  ])('%s', (_n, nodes, want) => {
    expect(backupSource(snapshot({ nodes }))).toEqual(want);
  });

  it.each([
    ['no replica caught up: refused, the master is not used', [node('node-1', 'master'), node('node-2', 'replica', { lagSeconds: 30 })], /^no replica is caught up with node-1 \(node-2 lag or do not replicate\)/],
    ['no master', [node('node-2', 'replica')], /^the service has no master in service$/],
    ["the master's server down", [node('node-1', 'master', { mysqlRunning: false })], /^the service has no master in service$/],
  ])('%s', (_n, nodes, why) => {
    const r = backupSource(snapshot({ nodes }));
    expect('refused' in r && r.refused).toMatch(why);
  });
});

describe('when the schedule takes a backup', () => {
  const H = 3600;
  const last = [b('f5', 5)]; // f5 began at 05:00 (see b)
  const started = Date.parse(last[0]!.startedAt);
  it.each([
    ['no schedule', null, last, started + 10 * H * 1000, false, null, false],
    ['no backup yet: at once', H, [], started, false, null, true],
    ['the interval has passed since the newest began', H, last, started + H * 1000, false, null, true],
    ['not yet', H, last, started + H * 1000 - 1, false, null, false],
    ['one under way', H, last, started + 2 * H * 1000, true, null, false],
    ['a failed attempt 10 s ago: waits the retry delay', H, last, started + 2 * H * 1000, false, started + 2 * H * 1000 - 10_000, false],
    ['a failed attempt a minute ago: tries again', H, last, started + 2 * H * 1000, false, started + 2 * H * 1000 - 60_000, true],
    ['a short interval waits only itself after a failure', 5, last, started + H * 1000, false, started + H * 1000 - 5_000, true],
    ['incrementals do not count as the newest full one', H, [...last, b('i6', 6, 'f5')], started + H * 1000, false, null, true],
  ] as const)('%s', (_n, interval, backups, now, running, lastAttempt, want) => {
    expect(backupDue(interval, backups, now, running, lastAttempt)).toBe(want);
  });
});
