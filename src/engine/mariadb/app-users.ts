import type { Connection } from 'mysql2/promise';
import type { AppUser } from '../../protocol/app-users.js';
import { AppError } from '../../util/errors.js';
import { ensureAccount } from './accounts.js';
import { APP_PRIVILEGES, MASK_PRIVILEGE, parseGrantLine, PROTECTED_SCHEMAS, RESERVED_CONNECTIONS, type AccountSpec } from './grants.js';
import { q } from './sql.js';
import { maxConnections, nativePasswordHash } from './statements.js';
import type { Engine } from '../engine.js';

/** The server's own accounts (MariaDB's): never an application account. */
export const OWN_ACCOUNTS = ['root', 'mariadb.sys', 'mysql', 'public', 'PUBLIC'];

/** An application account to create: names, the password's hash, privileges and where. */
export interface AppUserInput {
  /** Its name. */
  user: string;
  /** Its host part. */
  host: string;
  /** The `mysql_native_password` hash of its password (the password itself never reaches SQL). */
  hash: string;
  /** Its privileges (validated: protocol/app-users.ts). */
  privileges: readonly string[];
  /** The databases it holds them on; undefined: every application database. */
  databases?: readonly string[];
}

/**
 * A database name as a grant's target. In a database-level grant `_` and `%` are patterns, so
 * `_` is escaped (`%` and backticks are refused by the name's validation); SHOW GRANTS writes
 * the target the same way.
 */
export function databaseTarget(db: string): string {
  return `\`${db.replace(/`/g, '``').replace(/_/g, '\\_')}\`.*`;
}

/**
 * The account as it must be: no global privilege; its privileges on each named database, or on
 * every application database (the `%` pattern with the server's schemas masked, exactly as for
 * the service user: grants.ts); the service user's connection cap.
 */
export function appUserSpec(u: AppUserInput, maxConnections: number): AccountSpec {
  const grants: Record<string, readonly string[]> = { '*.*': ['USAGE'] };
  if (u.databases === undefined) {
    grants['`%`.*'] = u.privileges;
    for (const schema of PROTECTED_SCHEMAS) grants[`\`${schema}\`.*`] = [MASK_PRIVILEGE];
  } else {
    for (const db of u.databases) grants[databaseTarget(db)] = u.privileges;
  }
  return { user: u.user, host: u.host, auth: { kind: 'password', hash: u.hash }, grants, grantOption: false, maxUserConnections: Math.max(1, maxConnections - RESERVED_CONNECTIONS) };
}

async function exists(c: Connection, user: string, host: string): Promise<boolean> {
  return (await q(c, 'look for an account', 'SELECT 1 FROM mysql.global_priv WHERE User = ? AND Host = ?', [user, host])).length > 0;
}

/** Creates an application account, through the binary log; WRONG_STATE when it exists. */
export async function createAppUser(c: Connection, u: AppUserInput, maxConnections: number): Promise<void> {
  if (await exists(c, u.user, u.host)) throw new AppError('WRONG_STATE', `create_user: the account '${u.user.slice(0, 80)}'@'${u.host}' exists; set_user_password or drop_user it`);
  await ensureAccount(c, appUserSpec(u, maxConnections), { binlog: true });
}

/** Sets an application account's password (by its hash), through the binary log; NOT_FOUND when it does not exist. */
export async function setAppUserPassword(c: Connection, user: string, host: string, hash: string): Promise<void> {
  if (!(await exists(c, user, host))) throw new AppError('NOT_FOUND', `set_user_password: no account '${user.slice(0, 80)}'@'${host}'`);
  await q(c, 'set an account password', 'ALTER USER ?@? IDENTIFIED BY PASSWORD ?', [user, host, hash]);
}

/** Drops an application account, through the binary log; false when there was none. */
export async function dropAppUser(c: Connection, user: string, host: string): Promise<boolean> {
  if (!(await exists(c, user, host))) return false;
  await q(c, 'drop an account', 'DROP USER ?@?', [user, host]);
  return true;
}

/** A grant target back as a database name (`` `my\_db`.* `` → `my_db`), `*` for `%`, null for anything else. */
function databaseOf(target: string): string | null {
  const m = /^`((?:[^`]|``)*)`\.\*$/.exec(target);
  if (!m) return null;
  const name = m[1]!.replace(/``/g, '`');
  return name === '%' ? '*' : name.replace(/\\_/g, '_');
}

/** Every account of the server but roles and those in `reserved`, with the databases and privileges SHOW GRANTS gives it. */
export async function listAppUsers(c: Connection, reserved: ReadonlySet<string>): Promise<AppUser[]> {
  const rows = await q(c, 'list accounts', "SELECT User AS user, Host AS host FROM mysql.global_priv WHERE User <> '' AND COALESCE(JSON_VALUE(Priv, '$.is_role'), 'false') <> 'true' ORDER BY User, Host");
  const users: AppUser[] = [];
  for (const r of rows) {
    const user = String(r['user']);
    const host = String(r['host']);
    if (reserved.has(user) || reserved.has(user.toLowerCase())) continue;
    const grants = (await q(c, 'read account grants', 'SHOW GRANTS FOR ?@?', [user, host])).map((g) => parseGrantLine(String(Object.values(g)[0])));
    const databases: string[] = [];
    let privileges: string[] = [];
    for (const g of grants) {
      if (!g) continue;
      const db = databaseOf(g.target);
      if (db === null || (PROTECTED_SCHEMAS as readonly string[]).includes(db)) continue;
      databases.push(db);
      privileges = g.privileges.length === 1 && g.privileges[0] === 'ALL PRIVILEGES' ? [...APP_PRIVILEGES] : g.privileges;
    }
    users.push({ user, host, databases, privileges });
  }
  return users;
}

/**
 * The engine's `appUsers` (engine.ts) over a way to run SQL on the server (`sql`) and the names
 * it must never list (`own`: the server's and the agent's accounts).
 */
export function appUsersOn(sql: <T>(fn: (c: Connection) => Promise<T>) => Promise<T>, own: () => string[]): Engine['appUsers'] {
  return {
    create: (u) =>
      sql(async (c) => {
        const { password, ...rest } = u;
        await createAppUser(c, { ...rest, hash: nativePasswordHash(password) }, await maxConnections(c));
      }),
    setPassword: (user, host, password) => sql((c) => setAppUserPassword(c, user, host, nativePasswordHash(password))),
    drop: (user, host) => sql((c) => dropAppUser(c, user, host)),
    list: (reserved) => sql((c) => listAppUsers(c, new Set([...own(), ...reserved]))),
  };
}
