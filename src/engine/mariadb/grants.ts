/**
 * The accounts the product owns on every server, and how their privileges are compared with
 * what a server says (`SHOW GRANTS`, `mysql.global_priv`). Pure: no SQL is sent from here.
 *
 * The service user's privilege design (docs/security.md, "The service user"): no global
 * privilege at all; every application privilege on the database pattern `%`; and on `mysql`,
 * `performance_schema` and `sys` one harmless privilege (`DELETE HISTORY`). MariaDB takes the
 * first matching database-level row, most specific first, and does not add rows together
 * (sql_acl.cc `acl_get`: "Fully specified. Take it"), so the exact rows mask the wildcard: the
 * service user can neither read nor write the account tables, the statement history of other
 * sessions, or anything else in those schemas. Measured on MariaDB 10.11.19.
 */

/**
 * Privileges the service user holds on every application database (`%`), as SHOW GRANTS names
 * them: every database-level privilege of MariaDB 10.11 (SHOW GRANTS writes the whole set as
 * `ALL PRIVILEGES`), never `GRANT OPTION`.
 */
export const APP_PRIVILEGES = [
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'REFERENCES', 'INDEX', 'ALTER',
  'CREATE TEMPORARY TABLES', 'LOCK TABLES', 'EXECUTE', 'CREATE VIEW', 'SHOW VIEW',
  'CREATE ROUTINE', 'ALTER ROUTINE', 'EVENT', 'TRIGGER', 'DELETE HISTORY',
] as const;

/** Schemas of the server itself, masked from the service user by a row of their own. */
export const PROTECTED_SCHEMAS = ['mysql', 'performance_schema', 'sys'] as const;

/** The privilege granted on each protected schema: it masks the wildcard and allows nothing that matters. */
export const MASK_PRIVILEGE = 'DELETE HISTORY';

/** Privileges of the replication account (`REPLICATION CLIENT` is shown as `BINLOG MONITOR`). */
export const REPLICATION_PRIVILEGES = ['REPLICATION SLAVE', 'BINLOG MONITOR', 'SLAVE MONITOR'] as const;

/** Connections of the server kept free of the service user, for the agent and replication. */
export const RESERVED_CONNECTIONS = 10;

/** How an account logs in. */
export type AccountAuth =
  /** A `mysql_native_password` hash (`*…`, 41 characters). */
  | { kind: 'password'; hash: string }
  /** Logs in only through the Unix socket, as the OS user of the same name (`unix_socket`). */
  | { kind: 'socket' };

/** One account the product owns, as it must be on every server. */
export interface AccountSpec {
  /** The account's name. */
  user: string;
  /** The host part (`%`, `localhost`). */
  host: string;
  /** How it logs in. */
  auth: AccountAuth;
  /** Privileges by target as SHOW GRANTS writes it (`*.*`, `` `%`.* ``, `` `mysql`.* ``). */
  grants: Readonly<Record<string, readonly string[]>>;
  /** The account may grant what it holds (the agent's own accounts only). */
  grantOption: boolean;
  /** `MAX_USER_CONNECTIONS`; 0 means no limit of its own. */
  maxUserConnections: number;
}

/** The service user (`mysqldb`): the application's login. */
export function serviceAccount(user: string, hash: string, maxConnections: number): AccountSpec {
  const grants: Record<string, readonly string[]> = { '*.*': ['USAGE'], '`%`.*': APP_PRIVILEGES };
  for (const schema of PROTECTED_SCHEMAS) grants[`\`${schema}\`.*`] = [MASK_PRIVILEGE];
  return {
    user,
    host: '%',
    auth: { kind: 'password', hash },
    grants,
    grantOption: false,
    maxUserConnections: Math.max(1, maxConnections - RESERVED_CONNECTIONS),
  };
}

/** The account replicas connect to their master with. */
export function replicationAccount(user: string, hash: string): AccountSpec {
  return { user, host: '%', auth: { kind: 'password', hash }, grants: { '*.*': REPLICATION_PRIVILEGES }, grantOption: false, maxUserConnections: 0 };
}

/** An administrative account reached only over the socket by the OS user of its name (the agent, the backup tools). */
export function socketAdminAccount(user: string): AccountSpec {
  return { user, host: 'localhost', auth: { kind: 'socket' }, grants: { '*.*': ['ALL PRIVILEGES'] }, grantOption: true, maxUserConnections: 0 };
}

/** One line of SHOW GRANTS, reduced to what is compared. */
export interface GrantLine {
  /** What the line grants on (`*.*`, `` `db`.* ``, a routine). */
  target: string;
  /** The privileges, upper case, as written. */
  privileges: string[];
  /** The line ends WITH GRANT OPTION. */
  grantOption: boolean;
}

const GRANT_LINE = /^GRANT (.+?) ON (.+?) TO (`(?:[^`]|``)*`@`(?:[^`]|``)*`|'[^']*'@'[^']*')(.*)$/;

/** Parses one SHOW GRANTS line; null for a line that is not a GRANT of privileges (a role grant). */
export function parseGrantLine(line: string): GrantLine | null {
  const m = GRANT_LINE.exec(line.trim());
  if (!m) return null;
  const privileges = m[1]!.split(',').map((p) => p.trim().toUpperCase());
  return { target: m[2]!.trim(), privileges, grantOption: / WITH .*GRANT OPTION/.test(m[4]!) };
}

/** A privilege line as a comparable text: target, sorted privileges, grant option. */
function canonical(target: string, privileges: readonly string[], grantOption: boolean): string {
  return `${target}: ${[...privileges].sort().join(', ')}${grantOption ? ' +grant' : ''}`;
}

/**
 * True when the lines of SHOW GRANTS for an account hold exactly the privileges of `spec`.
 * Lines that carry no power of their own are ignored: `PROXY` (MariaDB's default for root) and
 * routine-level `EXECUTE`/`ALTER ROUTINE`, which MariaDB grants a routine's creator itself
 * (`automatic_sp_privileges`) and which the database-level grant already holds.
 */
export function grantsMatch(spec: AccountSpec, lines: readonly string[]): boolean {
  const seen: string[] = [];
  for (const raw of lines) {
    const g = parseGrantLine(raw);
    if (!g) return false; // a role or something we do not know: not ours
    if (g.privileges.length === 1 && g.privileges[0] === 'PROXY') continue;
    if (/^(FUNCTION|PROCEDURE|PACKAGE)( BODY)? /.test(g.target) && g.privileges.every((p) => p === 'EXECUTE' || p === 'ALTER ROUTINE')) continue;
    // On a database, ALL PRIVILEGES is how the server writes the whole database-level set.
    const privileges = g.target !== '*.*' && g.privileges.length === 1 && g.privileges[0] === 'ALL PRIVILEGES' ? APP_PRIVILEGES : g.privileges;
    seen.push(canonical(g.target, privileges, g.grantOption));
  }
  const want = Object.entries(spec.grants).map(([target, privs]) => canonical(target, privs, spec.grantOption && target === '*.*'));
  return seen.length === want.length && [...seen].sort().join('\n') === [...want].sort().join('\n');
}

/** What `mysql.global_priv.priv` holds (the parts compared). */
export interface GlobalPriv {
  /** The authentication plugin of the first way in. */
  plugin?: string;
  /** Its hash (`*…`), or 'invalid'. */
  authentication_string?: string;
  /** Every way in, when there are several (an empty object is the first). */
  auth_or?: Array<{ plugin?: string; authentication_string?: string }>;
  /** The account's own connection limit; 0 or absent: none. */
  max_user_connections?: number;
}

/** True when the account logs in exactly as `auth` says, and in no other way. */
export function authMatches(auth: AccountAuth, priv: GlobalPriv): boolean {
  const top = { plugin: priv.plugin ?? '', authentication_string: priv.authentication_string ?? '' };
  // `auth_or` lists the alternatives; an empty object in it stands for the top-level one.
  const ways = (priv.auth_or ?? [{}]).map((w) => (w.plugin === undefined ? top : { plugin: w.plugin, authentication_string: w.authentication_string ?? '' }));
  if (auth.kind === 'password') {
    return ways.length === 1 && ways[0]!.plugin === 'mysql_native_password' && ways[0]!.authentication_string === auth.hash;
  }
  // A socket account: at least one unix_socket way; any password way must be the impossible 'invalid'.
  return ways.some((w) => w.plugin === 'unix_socket') && ways.every((w) => w.plugin === 'unix_socket' || (w.plugin === 'mysql_native_password' && w.authentication_string === 'invalid'));
}
