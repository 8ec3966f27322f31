import type { Connection } from 'mysql2/promise';
import type { EngineAccounts } from '../engine.js';
import { authMatches, grantsMatch, replicationAccount, serviceAccount, socketAdminAccount, type AccountSpec, type GlobalPriv } from './grants.js';
import { nativePasswordHash } from './statements.js';
import { q } from './sql.js';

/**
 * Brings one account to what `spec` says: creates it, resets how it logs in, its privileges
 * and its connection limit, each only where it differs (so a server that is right sees no
 * statement, and no binary-log event). With `binlog: false` the changes stay on this server
 * (a replica, or an account that is this host's own). Returns what was changed, in words, for
 * the log ("created", "login", "privileges", "limits"); an empty list when nothing was.
 * Throws ENGINE_FAILED when a statement fails.
 */
export async function ensureAccount(c: Connection, spec: AccountSpec, options: { binlog: boolean }): Promise<string[]> {
  const changed: string[] = [];
  if (!options.binlog) await q(c, 'keep account changes local', 'SET SESSION sql_log_bin = 0');
  try {
    const [row] = await q(c, 'read account', 'SELECT priv FROM mysql.global_priv WHERE User = ? AND Host = ?', [spec.user, spec.host]);
    // A JSON column: mysql2 may hand it over parsed already.
    const raw: unknown = row?.['priv'];
    const priv = row ? ((typeof raw === 'string' ? JSON.parse(raw) : raw) as GlobalPriv) : null;
    if (priv === null) {
      await q(c, 'create account', `CREATE USER ?@? ${identified(spec)}`, [spec.user, spec.host, ...authValues(spec)]);
      changed.push('created');
    } else if (!authMatches(spec.auth, priv)) {
      await q(c, 'reset account login', `ALTER USER ?@? ${identified(spec)}`, [spec.user, spec.host, ...authValues(spec)]);
      changed.push('login');
    }
    const roles = await q(c, 'read account roles', 'SELECT Role FROM mysql.roles_mapping WHERE User = ? AND Host = ?', [spec.user, spec.host]);
    const shown = await q(c, 'read account grants', 'SHOW GRANTS FOR ?@?', [spec.user, spec.host]);
    const lines = shown.map((r) => String(Object.values(r)[0]));
    if (roles.length > 0 || !grantsMatch(spec, lines)) {
      for (const r of roles) await q(c, 'revoke a role', 'REVOKE ? FROM ?@?', [String(r['Role']), spec.user, spec.host]);
      await q(c, 'revoke privileges', 'REVOKE ALL PRIVILEGES, GRANT OPTION FROM ?@?', [spec.user, spec.host]);
      for (const [target, privileges] of Object.entries(spec.grants)) {
        if (privileges.length === 1 && privileges[0] === 'USAGE') continue;
        // Privilege names and targets are the product's constants, never a caller's text.
        const withGrant = spec.grantOption && target === '*.*' ? ' WITH GRANT OPTION' : '';
        await q(c, 'grant privileges', `GRANT ${privileges.join(', ')} ON ${target} TO ?@?${withGrant}`, [spec.user, spec.host]);
      }
      changed.push('privileges');
    }
    if ((priv?.max_user_connections ?? 0) !== spec.maxUserConnections) {
      await q(c, 'set account limits', `ALTER USER ?@? WITH MAX_USER_CONNECTIONS ${Math.trunc(spec.maxUserConnections)}`, [spec.user, spec.host]);
      changed.push('limits');
    }
  } finally {
    // The connection is the caller's for this call only; a failure here only loses a dying one.
    if (!options.binlog) await q(c, 'restore binary logging', 'SET SESSION sql_log_bin = 1').catch(() => undefined);
  }
  return changed;
}

function identified(spec: AccountSpec): string {
  return spec.auth.kind === 'password' ? 'IDENTIFIED BY PASSWORD ?' : 'IDENTIFIED VIA unix_socket';
}

function authValues(spec: AccountSpec): string[] {
  return spec.auth.kind === 'password' ? [spec.auth.hash] : [];
}

/**
 * Brings every account a node holds to what it should be: the socket admin accounts `admins`
 * (this host's own, never replicated), the replication account and the service user (with a
 * connection limit under `maxConnections`), which follow the master's binary log when
 * `options.binlog`. Answers what changed, by `user@host`. Throws ENGINE_FAILED when a statement fails.
 */
export async function ensureNodeAccounts(c: Connection, admins: readonly string[], accounts: EngineAccounts, maxConnections: number, options: { binlog: boolean }): Promise<Record<string, string[]>> {
  const specs = [
    ...admins.map(socketAdminAccount),
    replicationAccount(accounts.replication.user, nativePasswordHash(accounts.replication.password)),
    serviceAccount(accounts.service.user, nativePasswordHash(accounts.service.password), maxConnections),
  ];
  const changed: Record<string, string[]> = {};
  for (const spec of specs) {
    const local = spec.host === 'localhost';
    const done = await ensureAccount(c, spec, { binlog: options.binlog && !local });
    if (done.length > 0) changed[`${spec.user}@${spec.host}`] = done;
  }
  return changed;
}
