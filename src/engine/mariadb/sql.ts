import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { AppError } from '../../util/errors.js';

/**
 * The agent talks to its own server through the Unix socket as the account named like its OS
 * user (`root@localhost` when it runs as root), which MariaDB authenticates by the peer's uid
 * (`unix_socket`): no password exists to leak.
 */
export async function connect(socketPath: string, user: string, timeoutMs = 5000): Promise<Connection> {
  try {
    return await mysql.createConnection({
      socketPath,
      user,
      charset: 'utf8mb4',
      connectTimeout: timeoutMs,
      multipleStatements: false,
      supportBigNumbers: true,
      bigNumberStrings: false,
      authPlugins: { unix_socket: () => () => Buffer.alloc(0) },
    });
  } catch (err) {
    throw sqlError('connect', err);
  }
}

/** Runs `fn` on a connection of its own, made and closed around it. Throws ENGINE_FAILED when it cannot connect. */
export async function withConnection<T>(socketPath: string, user: string, fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = await connect(socketPath, user);
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}

/** How long one statement may take unless it says otherwise (ms): no step waits on a stuck server for good. */
export const STATEMENT_TIMEOUT_MS = 30_000;

/**
 * Runs one statement, within `timeoutMs`. Values are passed separately and escaped by mysql2, never spliced
 * into the text by us. The error names what failed but never carries the statement text,
 * which may hold a password.
 */
export async function q<T extends RowDataPacket[] = RowDataPacket[]>(c: Connection, what: string, sql: string, values?: unknown[], timeoutMs = STATEMENT_TIMEOUT_MS): Promise<T> {
  try {
    const [rows] = await c.query({ sql, timeout: timeoutMs }, values);
    return rows as T;
  } catch (err) {
    throw sqlError(what, err);
  }
}

/** A driver's error as ENGINE_FAILED naming what failed and MariaDB's message and code, never the statement; a statement past its deadline is TIMEOUT. */
export function sqlError(what: string, err: unknown): AppError {
  const e = err as { code?: string; errno?: number; sqlMessage?: string; message?: string };
  if (e.code === 'PROTOCOL_SEQUENCE_TIMEOUT') return new AppError('TIMEOUT', `${what} did not end in time (the server does not answer)`);
  const text = e.sqlMessage ?? e.message ?? String(err);
  return new AppError('ENGINE_FAILED', `${what} failed: ${text}${e.code ? ` (${e.code})` : ''}`);
}
