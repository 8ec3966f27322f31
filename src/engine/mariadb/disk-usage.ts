import { readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskUsage } from '../../protocol/manager-api.js';

/** Binary log files as my.cnf names them (`log_bin=mariadb-bin`): `mariadb-bin.000001`… */
const BINLOG_FILE = /^mariadb-bin\.\d+$/;
/** Relay log files (`relay_log=relay-bin`). */
const RELAY_FILE = /^relay-bin\.\d+$/;
/** How deep the data directory is walked: its files and its schemas' files (InnoDB keeps no deeper ones). */
const MAX_DEPTH = 2;

/**
 * What a data directory takes (bytes, its files and those of its schema directories), how much of
 * that is binary and relay logs (files named as my-cnf.ts names them), and the size and free space
 * (for an unprivileged user) of its file system. Files that vanish while it is walked are skipped. Throws
 * the file system's error when the directory itself cannot be read.
 */
export async function diskUsage(dataDir: string): Promise<DiskUsage> {
  const usage: DiskUsage = { dataBytes: 0, freeBytes: 0, sizeBytes: 0, binlogBytes: 0, relayLogBytes: 0 };
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (depth < MAX_DEPTH) await walk(path, depth + 1).catch(() => undefined);
        continue;
      }
      if (!e.isFile()) continue;
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch {
        continue; // rotated or dropped meanwhile
      }
      usage.dataBytes += size;
      if (depth === 1 && BINLOG_FILE.test(e.name)) usage.binlogBytes += size;
      if (depth === 1 && RELAY_FILE.test(e.name)) usage.relayLogBytes += size;
    }
  };
  await walk(dataDir, 1);
  const fs = await statfs(dataDir);
  usage.freeBytes = fs.bavail * fs.bsize;
  usage.sizeBytes = fs.blocks * fs.bsize;
  return usage;
}

/**
 * `diskUsage` refreshed at most every `everyMs`, in the background, one walk at a time (walking a
 * large data directory must never hold up the counters it rides with): `read` answers the last
 * reading at once, undefined before the first walk ended or when the directory cannot be read.
 */
export class DiskUsageCache {
  private usage: DiskUsage | undefined;
  private startedAt = Number.NEGATIVE_INFINITY;
  private walking: Promise<void> | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly everyMs = 10_000,
  ) {}

  /** The last reading (starting a new walk when it is older than `everyMs` and none runs). */
  read(now = Date.now()): DiskUsage | undefined {
    if (this.walking === null && now - this.startedAt >= this.everyMs) {
      this.startedAt = now;
      this.walking = diskUsage(this.dataDir)
        .then(
          (u) => {
            this.usage = u;
          },
          () => {
            this.usage = undefined;
          },
        )
        .finally(() => {
          this.walking = null;
        });
    }
    return this.usage;
  }
}
