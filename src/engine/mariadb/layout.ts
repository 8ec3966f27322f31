import { existsSync, statSync } from 'node:fs';
import { chmod, chown, lchown, lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../util/errors.js';
import { assertTraversable, type OsUser } from '../../util/os-user.js';

/** Where every file of one instance lives, all below the agent's directory. */
export interface Layout {
  /** The agent's directory. */
  root: string;
  /** The option file (`my.cnf`). */
  cnf: string;
  /** The data directory. */
  data: string;
  /** Where the socket and pid file are. */
  run: string;
  /** The Unix socket. */
  socket: string;
  /** The server's pid file. */
  pidFile: string;
  /** Where the error log is. */
  logDir: string;
  /** The server's error log. */
  errorLog: string;
  /** MariaDB's tmpdir; snapshot staging and uploads. */
  tmp: string;
}

/** Unix socket paths are limited to 107 bytes on Linux. */
const MAX_SOCKET_PATH = 107;

/** The layout below `root`. Throws INVALID_PARAMS when the socket path would pass the 107 bytes Linux allows. */
export function layoutOf(root: string): Layout {
  const run = join(root, 'run');
  const logDir = join(root, 'log');
  const layout: Layout = {
    root,
    cnf: join(root, 'my.cnf'),
    data: join(root, 'data'),
    run,
    socket: join(run, 'mysqld.sock'),
    pidFile: join(run, 'mysqld.pid'),
    logDir,
    errorLog: join(logDir, 'mariadbd.err'),
    tmp: join(root, 'tmp'),
  };
  if (Buffer.byteLength(layout.socket) > MAX_SOCKET_PATH) {
    throw new AppError('INVALID_PARAMS', `the directory ${root} is too deep: its socket path would exceed ${MAX_SOCKET_PATH} bytes`);
  }
  return layout;
}

/**
 * Makes an instance's directories: the node directory stays the agent's (others may only pass
 * through it), the server's own (data, run, log, tmp) belong to the database's OS user. Throws
 * when `dbUser` could not reach the node directory.
 */
export async function prepareInstanceDirs(layout: Layout, dbUser: OsUser): Promise<void> {
  await mkdir(layout.root, { recursive: true, mode: 0o711 });
  await chmod(layout.root, 0o711);
  assertTraversable(layout.root, dbUser);
  for (const d of [layout.run, layout.logDir, layout.tmp]) {
    await mkdir(d, { recursive: true, mode: 0o700 });
    await chown(d, dbUser.uid, dbUser.gid);
  }
  // A data directory made by an earlier version, as root, becomes the database user's.
  if (existsSync(layout.data) && statSync(layout.data).uid !== dbUser.uid) await chownTree(layout.data, dbUser);
}

/** Gives a directory tree to `user` (symbolic links themselves, never what they point to). */
async function chownTree(path: string, user: OsUser): Promise<void> {
  const st = await lstat(path);
  if (st.isDirectory()) for (const name of await readdir(path)) await chownTree(join(path, name), user);
  await lchown(path, user.uid, user.gid);
}
