import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chown, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { coalesce } from '../../util/coalesce.js';
import { AppError, isAppError } from '../../util/errors.js';
import type { ConnectionInput, SnapshotInput } from '../engine.js';
import { runAs } from '../../util/os-user.js';
import { TailBuffer, describeExit, lastLines, lowerPriority, run, spawnOutput, waitExit } from '../../util/proc.js';
import { BINLOG_INFO_FILES, parseBinlogInfo } from '../../protocol/binlog-info.js';
import type { ToolContext } from './logical.js';
import { programs } from './programs.js';
import { killWhenIdle } from '../../util/idle-watch.js';
import { CHANNEL_IDLE_SECONDS } from '../../util/tls-channel.js';

/**
 * The nice value (CPU priority, 0–19) of a copy's programs (`mariadb-backup`, `mbstream`, the
 * prepare): a copy shares its host with a serving server — the donor itself, the master on a
 * shared host — and yields the CPU to it. Measured 2026-12-07 (2 cores), bench item 1 (e), the
 * master's longest write gap while a replica was copied: quick (177 MiB, 3 runs each way)
 * 97–104 ms without, 40–72 ms with, the copy no slower; full (~950 MiB) 83–135 ms in two runs
 * without and 114–127 ms in three with — at that size the difference is lost in the noise.
 */
export const COPY_NICE = 10;

/** Seconds a backup waits for `BACKUP STAGE START` (behind another backup, or LOCK TABLES) before it gives up. */
export const BACKUP_LOCK_WAIT_SECONDS = 30;

/**
 * A physical hot copy of the running server as an xbstream (`mariadb-backup --backup`), run as
 * the database's OS user. A reader that goes away kills the copy (SIGKILL after a short grace):
 * a backup left running would keep its backup lock and stall every later one.
 */
export function snapshotStream(ctx: ToolContext, parallel: number, incrementalLsn?: number): Readable {
  return spawnOutput(programs.backup, backupArgs(ctx, parallel, incrementalLsn), { ...runAs(ctx.dbUser), nice: COPY_NICE }).stream;
}

/**
 * The same copy written by `mariadb-backup` straight into `out` — a connection or a pipe backed
 * by a file descriptor, handed to the program; this process's own end is closed at once, so no
 * byte passes through it and the reader sees the end when the program exits. Resolves once the
 * program exited 0; throws ENGINE_FAILED with its last lines otherwise (a reader that went away
 * ends it with SIGPIPE; one that stops reading, after CHANNEL_IDLE_SECONDS without a byte).
 */
export async function snapshotInto(ctx: ToolContext, parallel: number, out: Writable): Promise<void> {
  const child = spawn(programs.backup, backupArgs(ctx, parallel), { stdio: ['ignore', out, 'pipe'], ...runAs(ctx.dbUser) });
  out.destroy();
  lowerPriority(child, COPY_NICE);
  const err = new TailBuffer();
  child.stderr.on('data', (c: Buffer) => err.push(c));
  // A reader that stopped reading leaves it blocked in a write: bounded as the channel's relays are.
  const idle = killWhenIdle(child, CHANNEL_IDLE_SECONDS * 1000);
  const exit = await waitExit(child)
    .catch((e: Error) => {
      throw new AppError('ENGINE_FAILED', `cannot run mariadb-backup: ${e.message}`, { cause: e });
    })
    .finally(idle.stop);
  if (idle.fired) throw new AppError('ENGINE_FAILED', `mariadb-backup moved no byte for ${CHANNEL_IDLE_SECONDS} s and was stopped`);
  if (exit.code !== 0) throw new AppError('ENGINE_FAILED', `mariadb-backup ${describeExit(exit)}: ${lastLines(err.text(), 4)}`);
}

function backupArgs(ctx: ToolContext, parallel: number, incrementalLsn?: number): string[] {
  return [
    `--defaults-file=${ctx.layout.cnf}`,
    '--backup',
    '--stream=xbstream',
    // An incremental copy: only the pages changed since that LSN (a parent backup's to_lsn).
    ...(incrementalLsn !== undefined ? [`--incremental-lsn=${incrementalLsn}`] : []),
    `--parallel=${parallel}`,
    // The log-copy thread looks for new redo every 10 ms instead of every second: commits
    // stall while the backup waits for it, so this shortens the pause writers see.
    '--log-copy-interval=10',
    `--startup-wait-timeout=${BACKUP_LOCK_WAIT_SECONDS}`,
    `--user=${ctx.dbUser.name}`,
    `--socket=${ctx.layout.socket}`,
  ];
}

/**
 * A restore's input from a stream this process reads: the bytes go to mbstream's stdin in
 * 1 MiB writes, not one per TLS record (src/util/coalesce.ts). Resolves with the byte count;
 * rejects with PEER_FAILED when the stream breaks.
 */
function readableFeed(stream: Readable): (stdin: Writable) => Promise<number> {
  return async (stdin) => {
    let bytes = 0;
    // Counted beside the pipe, not through a stream of its own: one hop less per chunk.
    const piped = pipeline(stream, coalesce(), stdin);
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    try {
      await piped;
    } catch (e) {
      throw new AppError('PEER_FAILED', `the snapshot stream broke after ${bytes} bytes: ${(e as Error).message}`, { cause: e });
    }
    return bytes;
  };
}

/**
 * Extracts a snapshot (a stream, a feeder that fills mbstream's stdin itself, or a connection
 * mbstream reads itself: SnapshotInput) into `staging` (mbstream) and prepares it (`mariadb-backup --prepare`), as the database's OS
 * user. With `incrementalOf` (the directory of a full backup extracted and prepared already),
 * the snapshot is an incremental backup: it is applied to that directory (`--prepare
 * --incremental-dir`) and `staging` removed after. Returns the GTID position the snapshot was
 * taken at, its size in bytes (the feeder's or sender's count; the size extracted when nobody
 * counted), and how long (ms) the extraction and the prepare took. Throws PEER_FAILED when the
 * bytes stop short, the snapshot is incomplete or a connection's copy moved no byte for
 * CHANNEL_IDLE_SECONDS (a feeder's or sender's own AppError as it is), ENGINE_FAILED when a
 * program fails; `staging` is removed on failure.
 */
export async function extractSnapshot(ctx: ToolContext, input: SnapshotInput, staging: string, parallel: number, incrementalOf?: string): Promise<{ gtid: string; bytes: number; extractMs: number; prepareMs: number }> {
  const started = Date.now();
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true, mode: 0o700 });
  await chown(staging, ctx.dbUser.uid, ctx.dbUser.gid);
  let bytes: number | null = 0;
  // A connection input: mbstream reads the connection itself (this process's end closed once it has it).
  const connection = isConnection(input)
    ? await input.accept().catch(async (e: unknown) => {
        await rm(staging, { recursive: true, force: true });
        throw e;
      })
    : null;
  const child = spawn(programs.mbstream, ['-x', `--parallel=${parallel}`, '-C', staging], { stdio: [connection ?? 'pipe', 'ignore', 'pipe'], ...runAs(ctx.dbUser) });
  connection?.destroy();
  lowerPriority(child, COPY_NICE);
  const err = new TailBuffer();
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  const exited = waitExit(child);
  // Between two programs no relay bounds the copy (socat's -T did): a copy that moves no byte
  // for CHANNEL_IDLE_SECONDS — a stalled sender, a reader that stopped — is stopped.
  const idle = connection ? killWhenIdle(child, CHANNEL_IDLE_SECONDS * 1000) : null;
  try {
    try {
      if (isConnection(input)) {
        // The sender's account; mbstream failing first (it exits non-zero) is the error that counts.
        const settled = input.settle();
        settled.catch(() => undefined);
        const broke = exited.then((e) => (e.code === 0 ? new Promise<never>(() => undefined) : Promise.reject(new Error('mbstream exited'))));
        bytes = await Promise.race([settled, broke]);
      } else bytes = await (typeof input === 'function' ? input : readableFeed(input))(child.stdin!);
    } catch (e) {
      // mbstream giving up first (a full disk, a malformed stream) breaks the feed: its error is the one that counts.
      if (child.exitCode !== null && child.exitCode !== 0) throw new AppError('ENGINE_FAILED', `mbstream failed: ${lastLines(err.text(), 4)}`);
      child.kill('SIGKILL');
      await exited.catch(() => undefined);
      if (idle?.fired) throw new AppError('PEER_FAILED', `no byte of the snapshot moved for ${CHANNEL_IDLE_SECONDS} s: the copy was stopped`);
      throw isAppError(e) ? e : new AppError('PEER_FAILED', `the snapshot's bytes did not all arrive: ${(e as Error).message}`, { cause: e });
    } finally {
      idle?.stop();
    }
    const exit = await exited;
    if (exit.code !== 0) throw new AppError('ENGINE_FAILED', `mbstream failed after ${bytes ?? 'uncounted'} bytes: ${lastLines(err.text(), 4)}`);
    if (!existsSync(join(staging, 'xtrabackup_checkpoints'))) throw new AppError('PEER_FAILED', `the snapshot is incomplete (${bytes ?? 'uncounted'} bytes, no checkpoint file)`);
    // Bytes nobody counted (they went from program to program): the size of what was extracted.
    bytes ??= await treeBytes(staging);
    const extracted = Date.now();
    const target = incrementalOf ?? staging;
    const incremental = incrementalOf !== undefined ? [`--incremental-dir=${staging}`] : [];
    await run(programs.backup, [`--defaults-file=${ctx.layout.cnf}`, '--prepare', `--target-dir=${target}`, ...incremental, '--use-memory=256M'], { ...runAs(ctx.dbUser), nice: COPY_NICE });
    const gtid = readBackupGtid(staging);
    if (incrementalOf !== undefined) await rm(staging, { recursive: true, force: true });
    return { gtid, bytes, extractMs: extracted - started, prepareMs: Date.now() - extracted };
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
}

function isConnection(input: SnapshotInput): input is ConnectionInput {
  return typeof input === 'object' && 'kind' in input && input.kind === 'connection';
}

/** The total size (bytes) of the files under `dir`. */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath ?? e.path, e.name))).size;
  }
  return total;
}

function readBackupGtid(dir: string): string {
  for (const name of BINLOG_INFO_FILES) {
    const path = join(dir, name);
    if (existsSync(path)) return parseBinlogInfo(readFileSync(path, 'utf8'));
  }
  return '';
}
