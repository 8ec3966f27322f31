import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../../util/errors.js';
import { assertTraversable, type OsUser } from '../../util/os-user.js';
import { isAlive, run, sleep } from '../../util/proc.js';
import { syncTree } from '../../util/sync-tree.js';
import { layoutOf, prepareInstanceDirs, type Layout } from './layout.js';
import { writeOptionFile } from './my-cnf.js';
import { programs } from './programs.js';
import { ramScratchRoot } from './ram-scratch.js';

/**
 * Bumped when the option file's settings that shape a new data directory change (the format of
 * what `mariadb-install-db` writes): templates of another format are never copied.
 */
const TEMPLATE_FORMAT = 1;

/** How long a server waiting for another process to finish the template waits before making its own data directory. */
const WAIT_FOR_MAKER_MS = 60_000;
const POLL_MS = 50;

/** A lock directory without a pid this old (ms) was left by a process that died while taking it. */
const PIDLESS_LOCK_MS = 10_000;

/** Names of the RAM-backed directories a maker works in: `cps-template-<its pid>-<random>`. */
const SCRATCH_PREFIX = 'cps-template-';
const SCRATCH_NAME = /^cps-template-(\d+)-/;

/**
 * Makes a new data directory at `datadir` with `mariadb-install-db`, read with the option file
 * `cnf`, owned by `dbUser`. Throws ENGINE_FAILED with the program's last lines.
 */
export async function installDatadir(cnf: string, dbUser: OsUser, datadir: string): Promise<void> {
  await run(programs.installDb, [`--defaults-file=${cnf}`, `--user=${dbUser.name}`, '--skip-test-db', '--auth-root-authentication-method=socket', `--datadir=${datadir}`]);
}

/**
 * The template's name: the MariaDB build (the size and time of `mariadbd`, so an upgrade makes a
 * new one) and TEMPLATE_FORMAT.
 */
export function templateKey(): string {
  const st = statSync(programs.mariadbd);
  return `v${TEMPLATE_FORMAT}-${st.size}-${Math.floor(st.mtimeMs)}`;
}

/** Files of a new data directory at least this large are preallocated after the copy (the redo log, the system tablespace). */
const PREALLOCATE_FROM_BYTES = 1024 * 1024;

/**
 * Copies a new data directory: `cp -a` (owners and modes kept) leaving holes where the source
 * holds zeros — a new redo log is 96 MiB of them, which a plain copy would write out — then
 * `fallocate` gives the large files their blocks back (unwritten extents, no data written), as
 * InnoDB allocates them itself, so commits never wait for block allocation. Measured here: 0.06 s
 * with nothing left to write back, against 0.3 s plus 96 MiB of writes for a plain copy.
 */
async function copyDatadir(from: string, to: string): Promise<void> {
  await run('cp', ['-a', '--reflink=auto', '--sparse=always', from, to]);
  for (const e of await readdir(to, { withFileTypes: true })) {
    if (!e.isFile()) continue;
    const size = statSync(join(to, e.name)).size;
    if (size >= PREALLOCATE_FROM_BYTES) await run('fallocate', ['-l', String(size), join(to, e.name)]);
  }
}

/**
 * A fresh data directory made once per host and copied for each new server (issue #17): what
 * `mariadb-install-db` writes is the same for every server of a build (MariaDB keeps no
 * per-server identity in it: server ids and GTID domains come from the option file), and a copy
 * of its ~110 MiB takes a small part of its ~0.7 s. One process makes it at a time (a lock
 * directory naming its pid; a lock whose process died is taken over); it is made in a temporary
 * directory and renamed into place with a `ready` marker, so a template is whole or absent.
 */
export class DatadirTemplate {
  private readonly key = templateKey();

  /**
   * `root`: the directory holding the host's templates (shared by every node of the host);
   * `render`: the option file of an instance laid out in the directory given (the template is
   * made as an instance of its own: its log, socket and pid file are never a node's);
   * `scratch`: the RAM-backed directory to make it in first, or null for none (ram-scratch.ts).
   */
  constructor(
    private readonly root: string,
    private readonly dbUser: OsUser,
    private readonly render: (layout: Layout) => string,
    private readonly scratch: () => string | null = ramScratchRoot,
  ) {}

  /** Where this object last made the template's data directory ('ram' through the scratch directory, 'disk'), or null before it made one. */
  madeIn: 'ram' | 'disk' | null = null;

  /** Why its last attempt to make it in RAM failed (the error's message), or null. */
  ramError: string | null = null;

  private get dir(): string {
    return join(this.root, this.key);
  }

  private get lock(): string {
    return join(this.root, `${this.key}.lock`);
  }

  /** True once the template is whole. */
  get ready(): boolean {
    return existsSync(join(this.dir, 'ready'));
  }

  /**
   * Makes the template unless it is whole or another process is making it. Returns true when it
   * is whole afterwards. Throws what making it threw (the temporary directory removed).
   */
  async prepare(): Promise<boolean> {
    if (this.ready) return true;
    // Made here (the agent's umask may be 077): the database's OS user must pass through it.
    if ((await mkdir(this.root, { recursive: true })) !== undefined) await chmod(this.root, 0o711);
    // mariadb-install-db writes the template as the database's OS user.
    assertTraversable(this.root, this.dbUser);
    const lock = this.lock;
    if (!(await this.takeLock(lock))) return this.ready;
    const tmp = join(this.root, `${this.key}.tmp-${process.pid}`);
    try {
      if (this.ready) return true;
      // Holding the lock, no other maker is at work: what is left of one that died goes.
      for (const e of await readdir(this.root)) if (e.startsWith(`${this.key}.tmp-`)) await rm(join(this.root, e), { recursive: true, force: true });
      const layout = layoutOf(tmp);
      await prepareInstanceDirs(layout, this.dbUser);
      await writeOptionFile(layout.cnf, this.render(layout));
      await this.install(layout);
      await writeFile(join(tmp, 'ready'), `${new Date().toISOString()}\n`);
      await rm(this.dir, { recursive: true, force: true });
      await rename(tmp, this.dir);
      return true;
    } finally {
      await rm(tmp, { recursive: true, force: true });
      await rm(lock, { recursive: true, force: true });
    }
  }

  /**
   * Makes the template's data directory at `layout.data` and flushes it to disk (fsync of every
   * file and directory, before the caller marks it ready): made in a RAM-backed directory and
   * copied when the host has one with room (ram-scratch.ts), else on the disk itself, as it is when
   * making it in RAM failed. Why RAM: measured 2026-12-08 (2 vCPU, ext4 without a journal on a
   * virtio disk, ten runs each way), `mariadb-install-db` took 0.85–0.96 s on the disk and
   * 1.85–1.93 s in four runs of ten — InnoDB, creating the new system tablespace, waited on a
   * condition that its page cleaner thread answered only when its one-second timed wait ended
   * (seen with strace and gdb) — and 0.57–0.61 s on tmpfs, never stalled; the copy to disk and
   * its fsyncs add ~0.1 s. Throws ENGINE_FAILED as installDatadir.
   */
  private async install(layout: Layout): Promise<void> {
    const inRam = await this.installInRam(layout);
    if (!inRam) await installDatadir(layout.cnf, this.dbUser, layout.data);
    await syncTree(layout.data);
    this.madeIn = inRam ? 'ram' : 'disk';
  }

  /** install's RAM path: true when `layout.data` holds the copy; false (nothing left at `layout.data`) when there is no room or making it there failed. */
  private async installInRam(layout: Layout): Promise<boolean> {
    const scratchRoot = this.scratch();
    this.ramError = null;
    if (scratchRoot === null) return false;
    await removeDeadScratch(scratchRoot);
    let dir: string | null = null;
    try {
      dir = await mkdtemp(join(scratchRoot, `${SCRATCH_PREFIX}${process.pid}-`));
      await chmod(dir, 0o711);
      const ram = layoutOf(dir);
      await prepareInstanceDirs(ram, this.dbUser);
      await writeOptionFile(ram.cnf, this.render(ram));
      await installDatadir(ram.cnf, this.dbUser, ram.data);
      // Owners and modes kept; the redo log's zeros left as holes (copyDatadir allocates them per node).
      await run('cp', ['-a', '--sparse=always', ram.data, layout.data]);
      return true;
    } catch (err) {
      // Made on the disk instead: what failed in RAM (no room after all, no such directory) need not fail there.
      this.ramError = messageOf(err);
      await rm(layout.data, { recursive: true, force: true });
      return false;
    } finally {
      if (dir !== null) await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Fills `datadir` (which must not exist) with a new data directory for the server whose option
   * file is `cnf`: a copy of the template, made first if needed, or waited for while another
   * process makes it (at most WAIT_FOR_MAKER_MS); made in place when there is no template to
   * copy. Returns how. Throws ENGINE_FAILED when neither works.
   */
  async fill(datadir: string, cnf: string): Promise<'copied' | 'made'> {
    let whole = false;
    try {
      whole = await this.prepare();
      for (const until = Date.now() + WAIT_FOR_MAKER_MS; !whole && this.makerAlive() && Date.now() < until; whole = this.ready) await sleep(POLL_MS);
    } catch {
      whole = false; // a template that cannot be made: this server's own is made below
    }
    if (whole) {
      await copyDatadir(join(this.dir, 'data'), datadir);
      return 'copied';
    }
    await installDatadir(cnf, this.dbUser, datadir);
    return 'made';
  }

  /** Takes the lock directory, or takes over one whose process died; false when a live process holds it. */
  private async takeLock(lock: string): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await mkdir(lock);
        await writeFile(join(lock, 'pid'), String(process.pid));
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (this.makerAlive()) return false;
        await rm(lock, { recursive: true, force: true });
      }
    }
    return false;
  }

  /** True while a live process holds the lock (or has just taken it and not yet written its pid). */
  private makerAlive(): boolean {
    const lock = this.lock;
    try {
      const pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      return Number.isInteger(pid) && pid > 0 && isAlive(pid);
    } catch {
      // No pid yet: being written, unless the lock is older than that takes.
      try {
        return Date.now() - statSync(lock).mtimeMs < PIDLESS_LOCK_MS;
      } catch {
        return false;
      }
    }
  }
}

/**
 * Removes what makers that died left in the RAM-backed directory (each is ~114 MiB of memory):
 * only directories (not links) that this process's user owns, as a maker makes them — others
 * may write in /dev/shm, and nothing of theirs is removed. Never throws.
 */
async function removeDeadScratch(scratchRoot: string): Promise<void> {
  try {
    const uid = process.getuid?.() ?? -1;
    for (const name of await readdir(scratchRoot)) {
      const pid = SCRATCH_NAME.exec(name)?.[1];
      if (pid === undefined || isAlive(Number(pid))) continue;
      const st = await lstat(join(scratchRoot, name));
      if (st.isDirectory() && st.uid === uid) await rm(join(scratchRoot, name), { recursive: true, force: true });
    }
  } catch {
    // a directory that cannot be read or cleaned: its leftovers stay, the template is still made
  }
}
