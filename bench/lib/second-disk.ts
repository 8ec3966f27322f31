import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCmd } from './proc.js';

/**
 * A second disk for nodes of the local cloud: an ext4 filesystem on a loop device whose image
 * lives in `/dev/shm` (RAM). It shares nothing with the host's disk — no request queue, no write
 * cache whose flush a `fdatasync` on the host's disk would wait for — as another machine's disk
 * would not. Node directories are bind-mounted onto it before the nodes are created. Root only
 * (`mount`); `size` in GiB of RAM at most (the image is sparse).
 */
export class SecondDisk {
  private readonly binds: string[] = [];

  private constructor(
    private readonly image: string,
    private readonly mountPoint: string,
  ) {}

  /** Makes the filesystem and mounts it under `root`. Throws when not root or a tool fails. */
  static async create(root: string, sizeGiB: number): Promise<SecondDisk> {
    if (process.getuid?.() !== 0) throw new Error('a second disk needs root (mount)');
    const image = `/dev/shm/cpsb-disk-${randomBytes(4).toString('hex')}.img`;
    const mountPoint = join(root, 'second-disk');
    await mkdir(mountPoint, { recursive: true });
    const disk = new SecondDisk(image, mountPoint);
    try {
      await runCmd('truncate', ['-s', `${sizeGiB}G`, image]);
      await runCmd('mkfs.ext4', ['-q', '-F', image]);
      await runCmd('mount', ['-o', 'loop', image, mountPoint]);
    } catch (e) {
      await disk.destroy();
      throw e;
    }
    return disk;
  }

  /** Bind-mounts a new directory of this disk at `path` (made, mode 0711, as the local cloud makes node directories passable). */
  async bindAt(path: string): Promise<void> {
    const src = join(this.mountPoint, `d${this.binds.length}`);
    await mkdir(src, { mode: 0o711 });
    await mkdir(path, { recursive: true, mode: 0o711 });
    await runCmd('mount', ['--bind', src, path]);
    this.binds.push(path);
  }

  /**
   * Detaches the bind mounts, lazily: processes still running there keep their files until they
   * exit, and the directories left behind (empty, on the host's disk) can be removed as usual.
   */
  async release(): Promise<void> {
    for (const path of this.binds.splice(0)) await tryRun('umount', ['-l', path]);
  }

  /** Releases the binds, detaches the filesystem (lazily) and deletes its image. */
  async destroy(): Promise<void> {
    await this.release();
    await tryRun('umount', ['-l', this.mountPoint]);
    await rm(this.image, { force: true });
  }
}

/** Runs a command of a clean-up; a failure is left (the next step or the run's end cleans up). */
async function tryRun(cmd: string, args: string[]): Promise<void> {
  await runCmd(cmd, args).catch(() => undefined);
}
