import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { sleep } from '../../src/util/proc.js';

export const APP_USER = 'app';
export const APP_PASSWORD = `pa'ss"wo\\rd-ü-${Math.random().toString(36).slice(2)}`;

/** A client connection over TCP, as an application would make it. */
export function connectApp(host: string, port: number, user = APP_USER, password = APP_PASSWORD): Promise<Connection> {
  return mysql.createConnection({ host, port, user, password, connectTimeout: 5000 });
}

export async function scalar(c: Connection, sql: string, values?: unknown[]): Promise<unknown> {
  const [rows] = await c.query<RowDataPacket[]>(sql, values);
  const row = rows[0];
  return row ? Object.values(row)[0] : undefined;
}

/** Polls until `check` holds or the time is up; returns the last value seen. */
export async function eventually<T>(fn: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!check(last) && Date.now() < deadline) {
    await sleep(100);
    last = await fn();
  }
  return last;
}
