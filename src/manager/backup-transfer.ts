import { spawn } from 'node:child_process';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BINLOG_INFO_FILES, parseBinlogInfo } from '../protocol/binlog-info.js';
import type { BackupFacts, BackupManifest } from '../protocol/backups.js';
import type { BackupStore } from '../store/backup-store.js';
import { AppError } from '../util/errors.js';
import { TailBuffer, describeExit, lastLines, waitExit } from '../util/proc.js';
import { XbstreamCatcher } from '../util/xbstream.js';

/** The file of a mariadb-backup stream that says which LSNs it covers (`to_lsn = N`). */
const CHECKPOINTS = 'xtrabackup_checkpoints';

/** zstd's level for backups: 3 (its default) keeps up with a 2-core machine's copy. */
const ZSTD_LEVEL = 3;

/**
 * Stores a physical backup as it arrives: the xbstream `source` (an agent's `stream_snapshot`)
 * is compressed by `zstd` straight into `store` under `id` (never a whole copy on a disk first),
 * while its `mariadb_backup_binlog_info` is read on the way for the GTID position the backup
 * holds, and its `xtrabackup_checkpoints` for the LSN it reaches; `onBytes` hears how many bytes of the stream came so far. Answers the committed manifest
 * (ended now). On any failure nothing is kept (the writer is aborted)
 * and it throws: PEER_FAILED for a stream that broke or ended incomplete (no binlog info, a half
 * chunk), ENGINE_FAILED when zstd fails, what the store throws otherwise.
 */
export async function transferBackup(
  source: Readable,
  store: BackupStore,
  id: string,
  facts: Omit<BackupFacts, 'gtid' | 'compression' | 'endedAt' | 'toLsn'>,
  onBytes?: (bytes: number) => void,
): Promise<BackupManifest> {
  const writer = await store.begin(id);
  const catcher = new XbstreamCatcher(new Set([...BINLOG_INFO_FILES, CHECKPOINTS]));
  let read = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      catcher.push(chunk);
      read += chunk.length;
      onBytes?.(read);
      cb(null, chunk);
    },
  });
  const zstd = spawn('zstd', [`-${ZSTD_LEVEL}`, '-T0', '-q', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const err = new TailBuffer();
  zstd.stderr.on('data', (c: Buffer) => err.push(c));
  const exited = waitExit(zstd);
  try {
    try {
      await Promise.all([pipeline(source, tap, zstd.stdin), pipeline(zstd.stdout, writer.stream)]);
    } catch (e) {
      zstd.kill('SIGKILL');
      throw new AppError('PEER_FAILED', `backup ${id}: the stream broke: ${(e as Error).message}`, { cause: e });
    }
    const exit = await exited;
    if (exit.code !== 0) throw new AppError('ENGINE_FAILED', `backup ${id}: zstd ${describeExit(exit)}: ${lastLines(err.text(), 3)}`);
    if (catcher.error !== null) throw new AppError('PEER_FAILED', `backup ${id}: ${catcher.error}`);
    if (!catcher.complete) throw new AppError('PEER_FAILED', `backup ${id}: the stream ended inside a chunk (incomplete)`);
    const info = BINLOG_INFO_FILES.map((f) => catcher.files.get(f)).find((b) => b !== undefined);
    if (info === undefined) throw new AppError('PEER_FAILED', `backup ${id}: the stream holds no ${BINLOG_INFO_FILES.join(' or ')} (incomplete)`);
    let gtid: string;
    try {
      gtid = parseBinlogInfo(info.toString('utf8'));
    } catch (e) {
      throw new AppError('PEER_FAILED', `backup ${id}: ${(e as Error).message}`);
    }
    const lsn = /^to_lsn\s*=\s*(\d+)\s*$/m.exec(catcher.files.get(CHECKPOINTS)?.toString('utf8') ?? '');
    if (!lsn) throw new AppError('PEER_FAILED', `backup ${id}: the stream holds no ${CHECKPOINTS} with a to_lsn (incomplete)`);
    return await writer.commit({ ...facts, endedAt: new Date().toISOString(), gtid, toLsn: Number(lsn[1]), compression: 'zstd' });
  } catch (e) {
    zstd.kill('SIGKILL');
    await exited.catch(() => undefined);
    await writer.abort();
    throw e;
  }
}
