import { join } from 'node:path';
import { AppError } from '../../util/errors.js';

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
