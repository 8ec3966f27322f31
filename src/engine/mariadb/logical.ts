import { createReadStream, createWriteStream } from 'node:fs';
import { chown, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AppError, isAppError } from '../../util/errors.js';
import { runAs, type OsUser } from '../../util/os-user.js';
import { run, spawnOutput } from '../../util/proc.js';
import { describeNeutralised, prepareDump, type PreparedDump } from './dump-rewrite.js';
import { dropDatabase, readStatus, userDatabases } from './statements.js';
import type { LoadResult } from '../engine.js';
import type { Connection } from 'mysql2/promise';
import type { Layout } from './layout.js';
import { programs } from './programs.js';
import { optionFileValue } from '../../util/option-file.js';

/** What the logical dump and load need of an instance. */
export interface ToolContext {
  /** Where the instance's files are. */
  layout: Layout;
  /** The OS user MariaDB's programs run as; it logs in over the socket as the account of its name. */
  dbUser: OsUser;
}

/** The account a dump is loaded as: the service user, so an upload has exactly its uploader's rights. */
export interface Login {
  /** The account's name. */
  user: string;
  /** Its password (any characters). */
  password: string;
}

/**
 * The argument list of `mariadb-dump` for these databases. Database names are the users'
 * (any characters, `-r/path` or `--plugin-dir=…` included): they come after `--`, where the
 * program's option parser (my_getopt) reads nothing as an option any more.
 */
export function dumpArgs(ctx: ToolContext, databases: readonly string[]): string[] {
  return [
    `--defaults-file=${ctx.layout.cnf}`,
    `--user=${ctx.dbUser.name}`,
    `--socket=${ctx.layout.socket}`,
    '--single-transaction',
    '--gtid',
    '--routines',
    '--events',
    '--triggers',
    '--hex-blob',
    '--databases',
    '--',
    ...databases,
  ];
}

/** A logical dump of these databases, streamed; it fails (not ends) if mariadb-dump fails. */
export function dumpStream(ctx: ToolContext, databases: readonly string[]): Readable {
  return spawnOutput(programs.dump, dumpArgs(ctx, databases), runAs(ctx.dbUser)).stream;
}

export { optionFileValue } from '../../util/option-file.js';

/** What a failing load's error codes mean, in words that carry nothing of the statement. */
const LOAD_ERRORS: Record<string, string> = {
  '1044': 'the service user may not use that database',
  '1045': 'the service user could not log in',
  '1049': 'unknown database',
  '1050': 'a table already exists',
  '1062': 'a duplicate key',
  '1064': 'SQL syntax error',
  '1142': 'the service user may not do this',
  '1146': 'a table does not exist',
  '1227': 'the service user may not do this',
  '1419': 'creating this routine or trigger needs a privilege the service user does not have',
};

/**
 * The error of a failed load, from the client's stderr, reduced to its code, SQLSTATE and line:
 * the client's message can quote the failing statement, password and all.
 */
export function loadFailure(stderr: string): AppError {
  const m = /ERROR (\d+) \(([0-9A-Z]{5})\)(?: at line (\d+))?/.exec(stderr);
  if (!m) return new AppError('ENGINE_FAILED', 'load_dump: the mariadb client failed before loading anything');
  const [, code, state, line] = m;
  const what = LOAD_ERRORS[code!] ?? 'see the MariaDB error code';
  const where = line ? ` at line ${line}` : '';
  const before = line ? `; the statements before line ${line} were loaded` : '';
  return new AppError('ENGINE_FAILED', `load_dump failed: ERROR ${code} (${state})${where}: ${what}${before}`, { details: { errno: Number(code), sqlState: state, line: line ? Number(line) : null } });
}

/** A dump made ready to load: the file to give the client, and what preparing it found. */
export interface ReadyDump {
  /** The prepared copy (neutralised statements left out, DEFINERs taken out); removed by the caller. */
  file: string;
  /** What preparing found: statements, refusals, what was left out, the schemas it creates or uses. */
  prepared: PreparedDump;
}

/**
 * Reads an uploaded dump once and writes the copy that will be loaded (dump-rewrite.ts) next to
 * it. A dump a rule refuses (docs/security.md) is refused whole, before anything runs:
 * INVALID_PARAMS naming the lines (the copy is removed then).
 */
export async function prepareDumpFile(file: string): Promise<ReadyDump> {
  const ready = `${file}.load`;
  const prepared = await prepareDump(createReadStream(file), createWriteStream(ready, { mode: 0o600 }));
  if (prepared.refusals.length > 0) {
    await rm(ready, { force: true });
    const lines = prepared.refusals.map((r) => `line ${r.line}: ${r.reason}`).join('; ');
    throw new AppError('INVALID_PARAMS', `load_dump: the dump is refused, nothing was loaded: ${lines}`, { details: { refusals: prepared.refusals } });
  }
  return { file: ready, prepared };
}

/**
 * Loads a prepared dump into the server as `login`, with the client's sandbox on and local files
 * off. Throws ENGINE_FAILED (code, SQLSTATE and line only) when a statement fails.
 */
export async function loadDumpFile(ctx: ToolContext, file: string, login: Login): Promise<void> {
  // The login goes in an option file that only the program's user can read, never on its command line.
  const cnf = join(ctx.layout.tmp, `load-${randomBytes(8).toString('hex')}.cnf`);
  const text = ['[client]', `user=${optionFileValue(login.user)}`, `password=${optionFileValue(login.password)}`, `socket=${ctx.layout.socket}`, 'local-infile=0', ''].join('\n');
  await writeFile(cnf, text, { mode: 0o600 });
  try {
    await chown(cnf, ctx.dbUser.uid, ctx.dbUser.gid);
    await run(programs.client, [`--defaults-file=${cnf}`, '--batch', '--binary-mode', '--sandbox', '--local-infile=0'], {
      stdin: createReadStream(file),
      failure: (stderr) => loadFailure(stderr),
      ...runAs(ctx.dbUser),
    });
  } finally {
    await rm(cnf, { force: true });
  }
}

/**
 * Loads an uploaded dump whole (Engine.loadDump): prepares it (refused: INVALID_PARAMS, nothing
 * loaded), loads it as `login`, and when a statement fails drops the databases the load created
 * (through the binary log) before throwing. `sql` runs statements as the agent.
 */
export async function loadDumpWhole(ctx: ToolContext, file: string, login: Login, sql: <T>(fn: (c: Connection) => Promise<T>) => Promise<T>): Promise<LoadResult> {
  const ready = await prepareDumpFile(file);
  try {
    const before = new Set(await sql(userDatabases));
    try {
      await loadDumpFile(ctx, ready.file, login);
    } catch (err) {
      const created = ready.prepared.schemas.filter((s) => !before.has(s));
      const dropped = await sql(async (c) => {
        const now = new Set(await userDatabases(c));
        const gone: string[] = [];
        for (const db of created.filter((d) => now.has(d))) {
          await dropDatabase(c, db);
          gone.push(db);
        }
        return gone;
      }).catch(() => [] as string[]);
      if (isAppError(err) && dropped.length > 0) throw new AppError(err.code, `${err.message}; the databases the load created were dropped: ${dropped.join(', ')}`, { details: err.details ?? {} });
      throw err;
    }
    const st = await sql(readStatus);
    return { statements: ready.prepared.statements, warnings: ready.prepared.neutralised.map(describeNeutralised), schemas: ready.prepared.schemas, gtid: st.gtid.binlogPos };
  } finally {
    await rm(ready.file, { force: true });
  }
}
