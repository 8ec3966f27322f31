import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql, { type Connection } from 'mysql2/promise';
import type { ManagerProcess } from './manager-process.js';
import { connectApp } from './sql.js';

/** The pids of a local node's agent and mariadbd, from its node.json and its server's pid file. */
export function pidsOf(m: ManagerProcess, id: string): { agent: number; mysqld: number } {
  const dir = join(m.dataDir, 'nodes', id);
  return {
    agent: (JSON.parse(readFileSync(join(dir, 'node.json'), 'utf8')) as { pid: number }).pid,
    mysqld: Number(readFileSync(join(dir, 'run', 'mysqld.pid'), 'utf8').trim()),
  };
}

/**
 * A connection to a local node's server as OS root over its socket (`unix_socket`): what an
 * operator, or an attacker with root on the host, can do behind the manager's back.
 */
export function rootOn(m: ManagerProcess, id: string): Promise<Connection> {
  return rootAt(join(m.dataDir, 'nodes', id));
}

/** A connection as OS root over the socket of the node whose directory is `dir` (its `run/mysqld.sock`). */
export function rootAt(dir: string): Promise<Connection> {
  return mysql.createConnection({
    socketPath: join(dir, 'run', 'mysqld.sock'),
    user: 'root',
    authPlugins: { unix_socket: () => () => Buffer.alloc(0) },
  });
}

/**
 * Runs `fn` on a connection to the service's current master (as get_service_info names it) as
 * the service user, closed after it; answers what `fn` answers.
 */
export async function onMaster<T>(m: ManagerProcess, password: string, fn: (c: Connection) => Promise<T>): Promise<T> {
  const [host, port] = (await m.info()).master!.split(':');
  const c = await connectApp(host!, Number(port), 'mysqldb', password);
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
