import { z } from 'zod';

/**
 * Application accounts an owner creates besides the service user (`create_user`…): their
 * names, the privileges they may hold and the databases they hold them on. Shared by the
 * manager's and the agent's APIs (docs/security.md, "Application users").
 */

/** Database-level privileges an application account may be given (MariaDB 10.11's names); `ALL` is every one of them. Nothing global: no SUPER, no replication or server administration. */
export const USER_PRIVILEGES = [
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'REFERENCES', 'INDEX', 'ALTER',
  'CREATE TEMPORARY TABLES', 'LOCK TABLES', 'EXECUTE', 'CREATE VIEW', 'SHOW VIEW',
  'CREATE ROUTINE', 'ALTER ROUTINE', 'EVENT', 'TRIGGER', 'DELETE HISTORY',
] as const;

/** One privilege an application account may hold. */
export type UserPrivilege = (typeof USER_PRIVILEGES)[number];

/** Schemas of the server itself: never a target of an application account's privileges. */
export const SERVER_SCHEMAS = ['mysql', 'performance_schema', 'sys', 'information_schema'] as const;

/** An account name: any characters but the NUL, at most 80 (MariaDB allows 128). */
export const appUserName = z.string().min(1).max(80).regex(/^[^\0]+$/, 'must not hold a NUL character');
/** The host part: a name, an address or a `%`/`_` pattern (`%`: anywhere). */
export const appUserHost = z.string().min(1).max(255).regex(/^[A-Za-z0-9.%_:-]+$/, "must be a host name, an address or a pattern such as '%' or '10.0.%'");
/** A password: any characters, bounded. */
export const appUserPassword = z.string().min(1).max(512);
/** A database an account is given privileges on: a plain name (no pattern), not one of the server's. */
export const appDatabase = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_$]+$/, 'must be a database name of letters, digits, _ and $')
  .refine((d) => !(SERVER_SCHEMAS as readonly string[]).includes(d.toLowerCase()), { message: "must not be one of the server's own schemas (mysql, performance_schema, sys, information_schema)" });
/** The privileges asked for: `ALL`, or some of USER_PRIVILEGES (any case). */
export const appPrivileges = z
  .array(z.string().min(1).max(40))
  .min(1)
  .max(USER_PRIVILEGES.length)
  .transform((ps, ctx) => {
    const up = ps.map((p) => p.trim().toUpperCase().replace(/\s+/g, ' '));
    if (up.includes('ALL') || up.includes('ALL PRIVILEGES')) return [...USER_PRIVILEGES];
    const bad = up.filter((p) => !(USER_PRIVILEGES as readonly string[]).includes(p));
    if (bad.length > 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a privilege an application account may hold: ${bad.join(', ').slice(0, 200)} (allowed: ALL, ${USER_PRIVILEGES.join(', ')})` });
      return z.NEVER;
    }
    return [...new Set(up)] as UserPrivilege[];
  });

/** An application account as list_users shows it. */
export interface AppUser {
  /** Its name. */
  user: string;
  /** Its host part. */
  host: string;
  /** The databases it holds privileges on; `*` for every application database. */
  databases: string[];
  /** Its privileges (the same on every database listed). */
  privileges: string[];
}
