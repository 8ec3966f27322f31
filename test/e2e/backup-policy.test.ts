import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/util/errors.js';
import { sleep } from '../../src/util/proc.js';
import { ManagerProcess } from '../helpers/manager-process.js';
import { onMaster, rootOn } from '../helpers/nodes.js';
import { eventually } from '../helpers/sql.js';

/**
 * The backup schedule and retention (issue #16) over a real service: backups are taken by
 * themselves every few seconds, only `keep` full ones stay, the archived binary log files older
 * than every kept backup go, and what stays still restores to a second inside the window.
 */
describe('backup policy: schedule and retention (real mariadbd)', () => {
  let m: ManagerProcess;
  let password: string;
  const copies: string[] = [];
  const extra: ManagerProcess[] = [];
  const archived = (): string[] =>
    readdirSync(join(m.dataDir, 'backups', '_binlogs'))
      .filter((s) => s.startsWith('s'))
      .flatMap((s) => readdirSync(join(m.dataDir, 'backups', '_binlogs', s)).filter((f) => /\.\d{6}$/.test(f)).map((f) => `${s}/${f}`));

  beforeAll(async () => {
    m = await ManagerProcess.start({ monitorMs: 500 });
    await m.client.call('startup', { slaves: 0 });
    await m.waitFor('RUNNING');
    password = await m.client.call('get_password', {});
    await onMaster(m, password, async (c) => {
      await c.query('CREATE DATABASE k');
      await c.query('CREATE TABLE k.t (id INT PRIMARY KEY)');
    });
  });
  afterAll(async () => {
    for (const r of extra) await r.cleanup();
    await m?.cleanup();
    for (const d of copies) rmSync(d, { recursive: true, force: true });
  });

  it('refuses a policy it cannot keep, naming the parameter, and an incremental with no full backup', async () => {
    for (const [params, pattern] of [
      [{ interval: 1 }, /interval/],
      [{ keep: 0 }, /keep/],
      [{}, /needs 'interval'/],
    ] as const) {
      const e = await m.client.call('set_backup_policy', params).catch((x: unknown) => x);
      expect(isAppError(e) && e.code).toBe('INVALID_PARAMS');
      expect((e as Error).message).toMatch(pattern);
    }
    expect((await m.client.call('list_backups', {})).policy).toEqual({ intervalSeconds: null, keep: 7 });
    // An incremental builds on a full backup: with none, it is refused, saying so.
    const e = await m.client.call('backup', { incremental: true }).catch((x: unknown) => x);
    expect(isAppError(e) && e.code).toBe('WRONG_STATE');
    expect((e as Error).message).toMatch(/take a full backup first/);
  });

  it('takes a backup every interval, keeps the newest `keep`, drops the archived files no kept backup needs; what stays restores', async () => {
    expect(await m.client.call('set_backup_policy', { interval: 5, keep: 2 })).toEqual({ intervalSeconds: 5, keep: 2 });
    const root = await rootOn(m, 'node-1');
    let id = 0;
    try {
      // Writes, and a new binary log file now and then, while four backups come.
      await eventually(
        async () => {
          await onMaster(m, password, (c) => c.query('INSERT INTO k.t VALUES (?)', [++id]));
          if (id % 10 === 0) await root.query('FLUSH BINARY LOGS');
          await sleep(100);
          return (await m.info()).events.filter((e) => /^backup full-\S+ taken from node-1/.test(e.message)).length;
        },
        (n) => n >= 4,
        90_000,
      );
    } finally {
      await root.end();
    }
    await m.client.call('set_backup_policy', { interval: 0 });
    const l = await eventually(() => m.client.call('list_backups', {}), (x) => x.running === null, 30_000);
    const taken = (await m.info()).events.filter((e) => /^backup full-\S+ taken/.test(e.message)).map((e) => e.message.split(' ')[1]!);
    expect(l.backups.map((b) => b.id)).toEqual(taken.slice(-2));
    expect((await m.info()).events.some((e) => /^retention \(2 kept\): deleted full-/.test(e.message))).toBe(true);
    // No archived file is older than every kept backup, but the one being written.
    const oldest = Number(l.backups[0]!.gtid.split('-')[2]);
    const files = archived();
    expect(files.length).toBeGreaterThan(0);
    expect((await m.info()).events.some((e) => /older than every kept backup/.test(e.message))).toBe(true);
    // The window begins at the oldest kept backup (the window is refreshed every second).
    const from = new Date(Math.ceil(Date.parse(l.backups[0]!.endedAt) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    expect((await eventually(() => m.info(), (i) => i.recoverable.from === from, 5000)).recoverable.from).toBe(from);
    // What stays is enough: a restore to the end of a copy holds every row.
    await onMaster(m, password, (c) => c.query('INSERT INTO k.t VALUES (?)', [++id]));
    await m.client.call('shutdown', {});
    await m.waitFor('STOPPED', 60_000);
    const dir = mkdtempSync(join(tmpdir(), 'cps-store-'));
    copies.push(dir);
    cpSync(join(m.dataDir, 'backups'), dir, { recursive: true });
    const r = await ManagerProcess.start({ monitorMs: 500, args: ['--backup-dir', dir] });
    extra.push(r);
    await r.client.call('startup', { slaves: 0, restore: {} });
    await r.waitFor('RUNNING', 120_000);
    const pw = await r.client.call('get_password', {});
    const count = await onMaster(r, pw, async (c) => Number(((await c.query('SELECT COUNT(*) AS n FROM k.t'))[0] as Array<{ n: number }>)[0]!.n));
    expect(count).toBe(id);
    expect(oldest).toBeGreaterThan(0);
  }, 180_000);
});
