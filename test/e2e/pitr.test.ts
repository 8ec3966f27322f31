import { cpSync, readdirSync, truncateSync, statSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/util/errors.js';
import { sleep } from '../../src/util/proc.js';
import { killAndWait } from '../helpers/clients.js';
import { ManagerProcess } from '../helpers/manager-process.js';
import { onMaster, pidsOf } from '../helpers/nodes.js';
import { connectApp, eventually } from '../helpers/sql.js';

/** A second as restore takes it: ISO 8601 UTC, whole seconds. */
const iso = (second: number): string => new Date(second * 1000).toISOString().replace('.000Z', 'Z');

/**
 * Point-in-time restore over real mariadbd, mariadb-backup and mariadb-binlog (issue #16): a
 * service takes numbered writes for ~20 s, with a full backup, a switchover and a killed master's
 * failover among them, an incremental backup between the last two, and its binary logs archived
 * all along. Restores to three chosen seconds
 * each hold exactly the rows committed by then; a restore to the end after shutdown holds every
 * acknowledged row; a damaged backup, a time outside the window and a gap in the archive are
 * refused before anything starts.
 *
 * Binary log times are whole seconds (a transaction's is when its statement began on the
 * master), so the writer keeps away from second boundaries: each acknowledged row's statement
 * began and was acknowledged within one second, and "committed at or before T" is exact. Rows whose
 * insert failed or straddled a second are "unknown": either outcome is right for them.
 */
describe('point-in-time restore (real mariadbd, mariadb-backup, mariadb-binlog)', () => {
  let m: ManagerProcess;
  let password: string;
  const acked = new Map<number, number>(); // id → the second it was written in
  const unknown = new Set<number>();
  const times: Record<'t1' | 't2' | 't3', number> = { t1: 0, t2: 0, t3: 0 };
  let backupEnded = 0;
  let incremental = '';
  const extra: ManagerProcess[] = [];
  const copies: string[] = [];

  /** A copy of the original manager's backup store (a restore to an earlier time changes its store). */
  const storeCopy = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'cps-store-'));
    copies.push(dir);
    cpSync(join(m.dataDir, 'backups'), dir, { recursive: true });
    return dir;
  };
  const restoreManager = async (backupDir: string): Promise<ManagerProcess> => {
    const r = await ManagerProcess.start({ monitorMs: 500, args: ['--backup-dir', backupDir] });
    extra.push(r);
    return r;
  };
  const idsOn = async (r: ManagerProcess): Promise<Set<number>> => {
    const pw = await r.client.call('get_password', {});
    return onMaster(r, pw, async (c) => {
      const [rows] = await c.query('SELECT id FROM p.t');
      return new Set((rows as Array<{ id: number }>).map((x) => x.id));
    });
  };
  /** Exactly the rows acknowledged in a second ≤ `until` (null: all), the unknown ones either way, nothing else. */
  const expectRowsBy = (ids: Set<number>, until: number | null): void => {
    for (const [id, second] of acked) {
      if (until === null || second <= until) expect(ids.has(id), `row ${id} (written in ${iso(second)}) is restored`).toBe(true);
      else expect(ids.has(id), `row ${id} (written in ${iso(second)}) is after ${iso(until!)}`).toBe(false);
    }
    for (const id of ids) expect(acked.has(id) || unknown.has(id), `row ${id} was written`).toBe(true);
  };

  beforeAll(async () => {
    m = await ManagerProcess.start({ monitorMs: 500 });
    await m.client.call('startup', { slaves: 2 });
    await m.waitFor('RUNNING');
    password = await m.client.call('get_password', {});
    await onMaster(m, password, async (c) => {
      await c.query('CREATE DATABASE p');
      await c.query('CREATE TABLE p.t (id INT PRIMARY KEY, at DATETIME(3) NOT NULL)');
    });

    let stop = false;
    const writer = (async () => {
      let c: Connection | null = null;
      let next = 1;
      while (!stop) {
        const ms = Date.now() % 1000;
        if (ms < 150 || ms > 800) {
          await sleep(ms < 150 ? 150 - ms : 1150 - ms);
          continue;
        }
        const id = next++;
        const before = Date.now();
        try {
          if (!c) {
            const [host, port] = ((await m.info()).master ?? '').split(':');
            if (!host) throw new Error('no master now');
            c = await connectApp(host, Number(port), 'mysqldb', password);
          }
          await c.query('INSERT INTO p.t VALUES (?, NOW(3))', [id]);
          const after = Date.now();
          if (Math.floor(before / 1000) === Math.floor(after / 1000)) acked.set(id, Math.floor(after / 1000));
          else unknown.add(id);
        } catch {
          unknown.add(id);
          c?.destroy();
          c = null;
          await sleep(100);
        }
        await sleep(30);
      }
      c?.end().catch(() => undefined);
    })();

    try {
      await sleep(2000);
      // A full backup, from a replica, while the writes go on.
      const { id } = await m.client.call('backup', {});
      const done = await eventually(() => m.client.call('list_backups', {}), (l) => l.running === null, 120_000);
      expect(done.last).toMatchObject({ id, ok: true });
      backupEnded = Date.parse(done.backups.find((b) => b.id === id)!.endedAt) / 1000;
      await sleep(2500);
      times.t1 = Math.floor(Date.now() / 1000) - 1;
      // A switchover, writes going on.
      const info = await m.info();
      const candidate = info.nodes.find((n) => n.role === 'replica' && n.servesReads)!.id;
      await m.client.call('set_up_replica_master', { serviceNodeId: candidate });
      await m.waitFor('RUNNING', 60_000);
      // An incremental backup on the full one (from the node it came from), writes going on.
      const incr = await m.client.call('backup', { incremental: true });
      const after = await eventually(() => m.client.call('list_backups', {}), (l) => l.running === null, 120_000);
      expect(after.last).toMatchObject({ id: incr.id, ok: true });
      expect(after.backups.find((b) => b.id === incr.id)).toMatchObject({ kind: 'incremental', parent: id });
      incremental = incr.id;
      await sleep(2500);
      times.t2 = Math.floor(Date.now() / 1000) - 1;
      // The master killed (its agent and its server): a failover, writes going on.
      const master = (await m.info()).nodes.find((n) => n.role === 'master')!.id;
      const p = pidsOf(m, master);
      await killAndWait([p.agent, p.mysqld]);
      await eventually(() => m.info(), (i) => i.state === 'RUNNING' && i.operation === null && i.nodes.some((n) => n.role === 'master' && n.id !== master && n.status === 'ready'), 60_000);
      await sleep(3000);
      times.t3 = Math.floor(Date.now() / 1000) - 1;
      await sleep(2000);
    } finally {
      stop = true;
      await writer;
    }
    // The archive follows: the window reaches the last write.
    const last = Math.max(...acked.values());
    await eventually(() => m.info(), (i) => i.recoverable.until !== null && Date.parse(i.recoverable.until) / 1000 >= last, 20_000);
    await m.client.call('shutdown', {});
    await m.waitFor('STOPPED', 60_000);
  }, 300_000);

  afterAll(async () => {
    for (const r of extra) await r.cleanup();
    await m?.cleanup();
    for (const d of copies) rmSync(d, { recursive: true, force: true });
  });

  it('took writes through a backup, a switchover and a failover, and archived them all, its window shown', async () => {
    expect(acked.size).toBeGreaterThan(50);
    expect(times.t1).toBeLessThan(times.t2);
    expect(times.t2).toBeLessThan(times.t3);
    // Each chosen second has rows written before it and after it since the one before: the replay, and where it stops, matter.
    const between = (a: number, b: number): number => [...acked.values()].filter((sec) => sec > a && sec <= b).length;
    expect(between(backupEnded, times.t1)).toBeGreaterThan(0);
    expect(between(times.t1, times.t2)).toBeGreaterThan(0);
    expect(between(times.t2, times.t3)).toBeGreaterThan(0);
    expect(between(times.t3, Infinity)).toBeGreaterThan(0);
    const info = await m.info();
    expect(info.recoverable.from).not.toBeNull();
    expect(Date.parse(info.recoverable.from!)).toBeLessThanOrEqual(times.t1 * 1000);
    expect(info.events.map((e) => e.message).filter((x) => /^shutdown: the archive holds every transaction node-\d+ wrote$/.test(x))).toHaveLength(1);
    // One segment per master: the first, the switchover's and the failover's.
    const segments = readdirSync(join(m.dataDir, 'backups', '_binlogs')).filter((n) => n.startsWith('s'));
    expect(segments.length).toBeGreaterThanOrEqual(3);
  });

  for (const which of ['t1', 't2', 't3'] as const) {
    it(`a restore to ${which} (${which === 't1' ? 'after the backup' : which === 't2' ? 'after the switchover' : 'after the failover'}) holds exactly the rows committed by then`, async () => {
      const r = await restoreManager(storeCopy());
      await r.client.call('startup', { slaves: 0, restore: { time: iso(times[which]) } });
      await r.waitFor('RUNNING', 120_000);
      const ids = await idsOn(r);
      expectRowsBy(ids, times[which]);
      process.stdout.write(`restore to ${which}: ${ids.size} rows of ${acked.size} acknowledged (${unknown.size} unknown)\n`);
      const events = (await r.info()).events.map((e) => e.message);
      expect(events.some((e) => e.startsWith('restore: node-1 is the master'))).toBe(true);
      // After the incremental ended, the restore builds on it; before, on the full backup alone.
      expect(events.some((e) => e.startsWith(`restore: restored ${incremental} on full-`))).toBe(which !== 't1');
      await r.cleanup();
    }, 180_000);
  }

  it('a restore to the end, on the same manager after its shutdown, holds every acknowledged row, with a replica', async () => {
    await m.client.call('startup', { slaves: 1, restore: {} });
    await m.waitFor('RUNNING', 120_000);
    expectRowsBy(await idsOn(m), null);
    const info = await m.info();
    expect(info.nodes.filter((n) => n.status === 'ready')).toHaveLength(2);
  }, 180_000);

  it('a restore cut short by a killed manager is finished by the restarted one, from the start, to the same rows', async () => {
    const r = await restoreManager(storeCopy());
    await r.client.call('startup', { slaves: 0, restore: { time: iso(times.t2) } });
    await eventually(() => r.info(), (i) => (i.operation?.step ?? '').includes('building node-1 from backup'), 30_000);
    await r.kill('SIGKILL');
    await r.launch();
    await r.waitFor('RUNNING', 120_000);
    expectRowsBy(await idsOn(r), times.t2);
    await r.cleanup();
  }, 180_000);

  const refused = async (r: ManagerProcess, restore: { time?: string; backup?: string }, pattern: RegExp, code: string): Promise<void> => {
    const e = await r.client.call('startup', { slaves: 0, restore }).catch((x: unknown) => x);
    expect(isAppError(e) && e.code, String(e)).toBe(code);
    expect((e as Error).message).toMatch(pattern);
    const info = await r.info();
    expect(info.state).toBe('INIT');
    expect(info.nodes).toEqual([]);
  };

  it('refuses, before anything starts, a truncated or an altered backup, naming it', async () => {
    const dir = storeCopy();
    const backup = readdirSync(dir).find((n) => n.startsWith('full-'))!;
    const data = join(dir, backup, 'data');
    truncateSync(data, statSync(data).size - 100);
    const r = await restoreManager(dir);
    await refused(r, {}, new RegExp(`${backup}.*truncated`), 'CORRUPT');
  }, 60_000);

  it('refuses a time outside the window, a backup that does not exist, and a gap in the archive, naming what is missing', async () => {
    const r = await restoreManager(storeCopy());
    await refused(r, { time: '2099-01-01T00:00:00Z' }, /in the future/, 'WRONG_STATE');
    await refused(r, { time: iso(times.t1 - 3600) }, /before the recoverable window/, 'WRONG_STATE');
    await refused(r, { backup: 'full-19990101T000000Z' }, /no backup full-19990101T000000Z/, 'WRONG_STATE');
    const bad = await r.client.call('startup', { slaves: 0, restore: { time: '2026-11-29 12:00:00' } }).catch((x: unknown) => x);
    expect(isAppError(bad) && bad.code).toBe('INVALID_PARAMS');
    // A file of the archive lost: the transactions it held are missing.
    const dir = storeCopy();
    const segs = readdirSync(join(dir, '_binlogs')).filter((n) => n.startsWith('s')).sort();
    // Every copy of the history after the backup goes (each new master's binary log repeats it).
    for (const s of segs) for (const f of readdirSync(join(dir, '_binlogs', s)).filter((n) => /\.\d{6}$/.test(n))) rmSync(join(dir, '_binlogs', s, f));
    const g = await restoreManager(dir);
    await refused(g, { time: iso(times.t3) }, /misses transactions/, 'WRONG_STATE');
  }, 60_000);
});
