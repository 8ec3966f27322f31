import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { AppError } from './errors.js';

/** An account of the operating system that a program runs as. */
export interface OsUser {
  /** The user's name. */
  name: string;
  /** Its uid. */
  uid: number;
  /** Its primary gid. */
  gid: number;
}

/** The OS user MariaDB's programs run as when the agent runs as root; `npm run setup` creates it. */
export const DEFAULT_DB_OS_USER = 'cps-mysql';

const NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** The OS user this process runs as. */
export function currentOsUser(): OsUser {
  const u = userInfo();
  return { name: u.username, uid: u.uid, gid: u.gid };
}

/**
 * Looks an OS user up by name through NSS (`getent passwd`, so /etc/passwd and directory
 * services alike). Throws INVALID_PARAMS for a name that is not a user name, NOT_FOUND for
 * a user that does not exist.
 */
export function lookupOsUser(name: string): OsUser {
  if (!NAME.test(name)) throw new AppError('INVALID_PARAMS', `'${name.slice(0, 40)}' is not an OS user name`);
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    throw new AppError('NOT_FOUND', `the OS user '${name}' does not exist: create it with 'npm run setup' (or: useradd --system --no-create-home --shell /usr/sbin/nologin ${name})`);
  }
  const f = line.split(':');
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (f[0] !== name || !Number.isInteger(uid) || !Number.isInteger(gid)) throw new AppError('NOT_FOUND', `the OS user '${name}' could not be read from the user database`);
  return { name, uid, gid };
}

/**
 * The OS user MariaDB's programs run as: the named one when this process is root (mariadbd,
 * mariadb-dump and mariadb-backup then never run as root), otherwise this process's own user,
 * which is the only one it can run them as.
 */
export function databaseOsUser(name: string = DEFAULT_DB_OS_USER): OsUser {
  const me = currentOsUser();
  return me.uid === 0 ? lookupOsUser(name) : me;
}

/** Spawn options that run a child as `user`; none when that is who we are already. */
export function runAs(user: OsUser): { uid?: number; gid?: number } {
  const me = currentOsUser();
  return me.uid === user.uid && me.gid === user.gid ? {} : { uid: user.uid, gid: user.gid };
}

/**
 * Throws WRONG_STATE naming the first directory on the way to `dir` that `user` cannot pass
 * through (search permission), so a server that could not reach its files fails with a reason.
 */
export function assertTraversable(dir: string, user: OsUser): void {
  if (user.uid === 0) return;
  const chain: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    chain.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of chain) {
    const st = statSync(d);
    const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) {
      throw new AppError(
        'WRONG_STATE',
        `the OS user '${user.name}' that runs mariadbd cannot reach ${dir}: ${d} (mode ${(st.mode & 0o777).toString(8)}) is closed to it; choose a directory it can pass through (e.g. under /var/lib or /tmp) or allow it with chmod o+x ${d}`,
      );
    }
  }
}
