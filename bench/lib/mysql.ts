import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';

export type { Connection } from 'mysql2/promise';

/** root@localhost through a node's socket: MariaDB's unix_socket plugin lets OS root in. */
export function rootConnect(socketPath: string): Promise<Connection> {
  return mysql.createConnection({
    socketPath,
    user: 'root',
    connectTimeout: 5000,
    supportBigNumbers: true,
    authPlugins: { unix_socket: () => () => Buffer.alloc(0) },
  });
}

/** A client over TCP, as an application connects. */
export function tcpConnect(host: string, port: number, user: string, password: string): Promise<Connection> {
  return mysql.createConnection({ host, port, user, password, connectTimeout: 3000 });
}

export async function rows(c: Connection, sql: string, values?: unknown[]): Promise<RowDataPacket[]> {
  const [r] = await c.query<RowDataPacket[]>(sql, values);
  return r;
}

export async function scalar(c: Connection, sql: string, values?: unknown[]): Promise<unknown> {
  const r = (await rows(c, sql, values))[0];
  return r ? Object.values(r)[0] : undefined;
}

/** Runs `fn` on a root connection to the socket, then closes it. */
export async function withRoot<T>(socketPath: string, fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = await rootConnect(socketPath);
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}
