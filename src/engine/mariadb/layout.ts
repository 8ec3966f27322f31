import { join } from 'node:path';
import { AppError } from '../../util/errors.js';

/** Where every file of one instance lives, all below the agent's directory. */
export interface Layout {
  root: string;
  cnf: string;
  data: string;
  run: string;
  socket: string;
  pidFile: string;
  logDir: string;
  errorLog: string;
  tmp: string;
}

/** Unix socket paths are limited to 107 bytes on Linux. */
const MAX_SOCKET_PATH = 107;

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
