import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transferBackup } from '../../src/manager/backup-transfer.js';
import { parseBinlogInfo } from '../../src/protocol/binlog-info.js';
import { FsBackupStore } from '../../src/store/fs-backup-store.js';
import { isAppError } from '../../src/util/errors.js';
import { AgentProcess, stopAll } from '../helpers/agent-process.js';
import { APP_PASSWORD, APP_USER, connectApp, scalar } from '../helpers/sql.js';

const FACTS = { kind: 'full' as const, parent: null, startedAt: '2026-11-29T12:00:00.000Z', sourceNode: 'node-1', serverVersion: 'test' };

/**
 * A physical backup taken from a real server (mariadb-backup through the agent's
 * stream_snapshot) goes through zstd straight into the filesystem store, with the GTID it holds
 * read on the way; stored, it decompresses and extracts into a backup whose own binlog info says
 * the same position (issue #16's first step: the transfer, not yet the operation).
 */
describe('a backup streamed from a real server into the store', () => {
  const agents: AgentProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'cps-backup-transfer-'));
  let master: AgentProcess;

  beforeAll(async () => {
    master = await AgentProcess.start();
    agents.push(master);
    await master.client.call('init_server', { serverId: 1 });
    await master.client.call('configure_master', { replUser: 'repl', replPassword: 'transfer-repl-secret' });
    await master.client.call('set_password', { user: APP_USER, password: APP_PASSWORD });
    const c = await connectApp(master.host, master.mysqlPort);
    await c.query('CREATE DATABASE shop');
    await c.query('CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(40))');
    for (let i = 1; i <= 50; i++) await c.query('INSERT INTO shop.t VALUES (?, SHA1(?))', [i, i]);
    await c.end();
  });

  afterAll(async () => {
    await stopAll(agents);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is compressed into the store with the GTID it holds, and extracts into the same backup', async () => {
    const store = new FsBackupStore(join(dir, 'backups'));
    const c = await connectApp(master.host, master.mysqlPort);
    const before = String(await scalar(c, 'SELECT @@gtid_binlog_pos'));
    await c.end();
    const m = await transferBackup(await master.client.stream('stream_snapshot', {}), store, 'full-1', FACTS);
    expect(m).toMatchObject({ id: 'full-1', compression: 'zstd', gtid: before, sourceNode: 'node-1' });
    expect((await store.list()).map((b) => b.id)).toEqual(['full-1']);
    // Read back (checked against its SHA-256), decompressed and extracted with MariaDB's own tools.
    const out = join(dir, 'extracted');
    mkdirSync(out, { recursive: true });
    const unzstd = spawn('zstd', ['-d', '-q', '-c'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const mbstream = spawn('mbstream', ['-x', '-C', out], { stdio: ['pipe', 'inherit', 'inherit'] });
    await Promise.all([pipeline(await store.read('full-1'), unzstd.stdin), pipeline(unzstd.stdout, mbstream.stdin)]);
    await new Promise((resolve) => mbstream.once('exit', resolve));
    const info = ['mariadb_backup_binlog_info', 'xtrabackup_binlog_info'].map((f) => {
      try {
        return readFileSync(join(out, f), 'utf8');
      } catch {
        return null;
      }
    }).find((t) => t !== null)!;
    expect(parseBinlogInfo(info)).toBe(before);
    expect(readFileSync(join(out, 'xtrabackup_checkpoints'), 'utf8')).toMatch(/backup_type = full-backuped/);
  });

  it('keeps nothing when the stream is not a backup, and says why', async () => {
    const store = new FsBackupStore(join(dir, 'backups-2'));
    const err = await transferBackup(Readable.from([Buffer.from('-- MariaDB dump\nCREATE TABLE t (id INT);\n')]), store, 'not-a-backup', FACTS).catch((e: unknown) => e);
    expect(isAppError(err) && err.code).toBe('PEER_FAILED');
    expect((err as Error).message).toMatch(/^backup not-a-backup: not an xbstream/);
    expect(await store.list()).toEqual([]);
    expect(await store.cleanup()).toBe(0);
  });
});
