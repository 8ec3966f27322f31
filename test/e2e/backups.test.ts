import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/util/errors.js';
import { sleep } from '../../src/util/proc.js';
import { ManagerProcess } from '../helpers/manager-process.js';
import { onMaster } from '../helpers/nodes.js';
import { eventually, scalar } from '../helpers/sql.js';

/**
 * Full physical backups of a real 3-node service (issue #16, first part): taken in the background
 * from a caught-up replica into the manager's store with the GTID position they hold, one at a
 * time, listed, deleted; one cut short by a killed manager is never listed and is cleaned away.
 */
describe('backups of a running service (real mariadbd, mariadb-backup, zstd)', () => {
  let m: ManagerProcess;
  let password: string;
  const masterPos = (): Promise<string> => onMaster(m, password, async (c) => String(await scalar(c, 'SELECT @@gtid_binlog_pos')));

  beforeAll(async () => {
    m = await ManagerProcess.start({ monitorMs: 500 });
    await m.client.call('startup', { slaves: 2 });
    await m.waitFor('RUNNING');
    password = await m.client.call('get_password', {});
    await onMaster(m, password, async (c) => {
      await c.query('CREATE DATABASE shop');
      await c.query('CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(40))');
      for (let i = 1; i <= 200; i++) await c.query('INSERT INTO shop.t VALUES (?, SHA1(?))', [i, i]);
    });
  });
  afterAll(async () => {
    await m?.cleanup();
  });

  it('takes a backup from a caught-up replica, one at a time, with the GTID position it holds; then deletes it', async () => {
    const pos = await masterPos();
    // The replicas catch up before the copy (the source must be within a second).
    await eventually(() => m.info(), (i) => i.nodes.filter((n) => n.servesReads).length === 2, 20_000);
    const [first, second] = await Promise.allSettled([m.client.call('backup', {}), m.client.call('backup', {})]);
    expect(first.status).toBe('fulfilled');
    const { id, source } = (first as PromiseFulfilledResult<{ id: string; source: string }>).value;
    expect(id).toMatch(/^full-\d{8}T\d{6}Z$/);
    expect(['node-2', 'node-3']).toContain(source);
    expect(second.status).toBe('rejected');
    const busy = (second as PromiseRejectedResult).reason as unknown;
    expect(isAppError(busy) && busy.code).toBe('BUSY');
    const listed = await eventually(() => m.client.call('list_backups', {}), (l) => l.running === null, 60_000);
    expect(listed.last).toMatchObject({ id, ok: true, error: null });
    expect(listed.backups).toHaveLength(1);
    expect(listed.backups[0]).toMatchObject({ id, kind: 'full', sourceNode: source, gtid: pos, compression: 'zstd' });
    expect(listed.backups[0]!.bytes).toBeGreaterThan(100_000);
    expect((await m.info()).events.map((e) => e.message)).toContain(`backup ${id}: copying ${source}`);
    await m.client.call('delete_backup', { id });
    expect((await m.client.call('list_backups', {})).backups).toEqual([]);
    const again = await m.client.call('delete_backup', { id }).catch((e: unknown) => e);
    expect(isAppError(again) && again.code).toBe('NOT_FOUND');
  });

  it('a backup cut short by a killed manager is never listed, and the restarted manager removes what it left', async () => {
    await sleep(1100); // a new second: a new id
    const { id } = await m.client.call('backup', {});
    // Killed while copying (or just after): whatever it wrote is not a backup.
    await m.kill('SIGKILL');
    await m.launch();
    const l = await m.client.call('list_backups', {});
    const kept = l.backups.map((b) => b.id);
    // The copy may have completed before the kill; if not, nothing of it remains on disk (the
    // binary log archive, `_binlogs`, begun with the backup, is not a backup).
    if (!kept.includes(id)) expect(readdirSync(join(m.dataDir, 'backups')).filter((n) => !n.startsWith('_'))).toEqual([]);
    expect(l.running).toBeNull();
    for (const b of l.backups) expect(b.bytes).toBeGreaterThan(0);
  });

  it('refuses names that are not backup ids, naming the parameter', async () => {
    const e = await m.client.call('delete_backup', { id: '../state.db' }).catch((x: unknown) => x);
    expect(isAppError(e) && e.code).toBe('INVALID_PARAMS');
    expect((e as Error).message).toMatch(/id/);
  });
});
