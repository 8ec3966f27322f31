import { PROTECTED_SCHEMAS } from './grants.js';
import { tokenize, type Token } from './dump-split.js';

/**
 * What a dump loaded through the service may not do (docs/security.md, "Uploads"; docs/protocol.md,
 * `load_dump`). Some statements are **neutralised** (left out of what is loaded, with a warning
 * in the answer): those that would break replication or the service's own accounts, which real
 * dumps carry (mysqldump's `SET @@SESSION.SQL_LOG_BIN= 0`, `SET @@GLOBAL.GTID_PURGED`,
 * `CHANGE MASTER TO`, the `mysql` schema of `--all-databases`, accounts and grants, `SET GLOBAL`).
 * Others are **refused**: the whole dump, before anything is loaded, with the line (files of the
 * host or the server, server administration, reads of the server's schemas).
 */
export interface Refusal {
  /** The line of the dump where the statement starts. */
  line: number;
  /** A stable name for the rule (`host-file`, `server-file`, …). */
  rule: string;
  /** Why, in words. */
  reason: string;
}

/** What the policy does with a statement. */
export interface Verdict {
  /** Refuse the dump, or leave this statement out of it. */
  action: 'refuse' | 'neutralise';
  /** A stable name for the rule. */
  rule: string;
  /** Why, in words. */
  reason: string;
}

interface Rule extends Verdict {
  /** Decides from the statement's words; `all` holds every word, `head` the first few. */
  test(head: readonly Token[], all: () => readonly Token[]): boolean;
}
const word = (t: Token | undefined): string => (t && (t.t === 'word' || t.t === 'name') ? t.v : '');
const words = (ts: readonly Token[], n: number): string => ts.slice(0, n).map(word).join(' ');
const startsWith = (ts: readonly Token[], ...phrases: string[]): boolean => phrases.some((p) => `${words(ts, p.split(' ').length)}` === p);
const SCHEMAS = new Set<string>(PROTECTED_SCHEMAS.map((s) => s.toUpperCase()));

/** True when a token names one of the server's own schemas, as a qualifier (`mysql.user`) or alone after USE / DATABASE. */
function touchesServerSchema(ts: readonly Token[]): boolean {
  const first = word(ts[0]);
  if (first === 'USE') return SCHEMAS.has(word(ts[1]));
  if (['CREATE', 'DROP', 'ALTER'].includes(first) && ['DATABASE', 'SCHEMA'].includes(word(ts[1]))) {
    const rest = ts.slice(2).filter((t) => !['IF', 'NOT', 'EXISTS'].includes(word(t)));
    if (SCHEMAS.has(word(rest[0]))) return true;
  }
  for (let i = 0; i + 1 < ts.length; i++) {
    const prev = ts[i - 1];
    const qualifier = SCHEMAS.has(word(ts[i])) && ts[i + 1]?.t === 'symbol' && (ts[i + 1] as { v: string }).v === '.';
    if (qualifier && !(prev?.t === 'symbol' && prev.v === '.')) return true;
  }
  return false;
}

/** True for `SET … SQL_LOG_BIN = …` in any form (`@@SESSION.SQL_LOG_BIN`, `SESSION sql_log_bin`): an assignment, not a read of it. */
function setsSqlLogBin(ts: readonly Token[]): boolean {
  if (word(ts[0]) !== 'SET') return false;
  return ts.some((t, i) => ((t.t === 'word' && t.v === 'SQL_LOG_BIN') || (t.t === 'var' && /^@@(SESSION\.|LOCAL\.)?SQL_LOG_BIN$/.test(t.v))) && ts[i + 1]?.t === 'symbol' && (ts[i + 1] as { v: string }).v === '=');
}

const isGlobal = (t: Token): boolean => (t.t === 'word' && ['GLOBAL', 'PERSIST', 'PERSIST_ONLY'].includes(t.v)) || (t.t === 'var' && /^@@(GLOBAL|PERSIST)\./.test(t.v));
const GTID_VARIABLES = /GTID_PURGED|GTID_SLAVE_POS|GTID_BINLOG_STATE|GTID_EXECUTED/;

const RULES: readonly Rule[] = [
  {
    action: 'neutralise',
    rule: 'binlog-off',
    reason: "turns the binary log off for the load (mysqldump's SET SQL_LOG_BIN); the replicas must get every change",
    test: (h, all) => word(h[0]) === 'SET' && setsSqlLogBin(all()),
  },
  {
    action: 'neutralise',
    rule: 'gtid-position',
    reason: "sets the server's GTID position (GTID_PURGED, gtid_slave_pos); the service keeps its own",
    test: (h, all) => word(h[0]) === 'SET' && all().some((t) => (t.t === 'word' || t.t === 'var') && GTID_VARIABLES.test(t.v)) && all().some(isGlobal),
  },
  {
    action: 'neutralise',
    rule: 'global-setting',
    reason: 'changes a server-wide setting (SET GLOBAL); a dump may set its own session only',
    test: (h, all) => word(h[0]) === 'SET' && all().some(isGlobal),
  },
  {
    action: 'refuse',
    rule: 'host-file',
    reason: 'reads a file of the host it is loaded on (LOAD DATA LOCAL, LOAD XML LOCAL)',
    test: (h) => startsWith(h, 'LOAD DATA', 'LOAD XML') && h.slice(2, 6).some((t) => word(t) === 'LOCAL'),
  },
  {
    action: 'refuse',
    rule: 'server-file',
    reason: "reads or writes a file of the server's host (LOAD DATA INFILE, LOAD_FILE, INTO OUTFILE)",
    test: (h, all) => startsWith(h, 'LOAD DATA', 'LOAD XML') || all().some((t, i, ts) => (word(t) === 'LOAD_FILE') || (word(t) === 'INTO' && ['OUTFILE', 'DUMPFILE'].includes(word(ts[i + 1])))),
  },
  {
    action: 'neutralise',
    rule: 'accounts',
    reason: 'manages accounts or privileges; accounts are made with create_user, the service\'s own are the service\'s',
    test: (h) =>
      startsWith(h, 'GRANT', 'REVOKE', 'SET PASSWORD', 'SET DEFAULT ROLE', 'RENAME USER', 'FLUSH PRIVILEGES') ||
      (['CREATE', 'ALTER', 'DROP'].includes(word(h[0])) && ['USER', 'ROLE'].includes(word(h[1]) === 'OR' ? word(h[3]) : word(h[1]))),
  },
  {
    action: 'neutralise',
    rule: 'replication',
    reason: 'controls replication or the binary log (CHANGE MASTER TO, START SLAVE…), which the service manages',
    test: (h) =>
      startsWith(h, 'CHANGE MASTER', 'CHANGE REPLICATION', 'START SLAVE', 'STOP SLAVE', 'START REPLICA', 'STOP REPLICA', 'START ALL', 'STOP ALL', 'RESET MASTER', 'RESET SLAVE', 'RESET REPLICA', 'PURGE', 'BINLOG'),
  },
  {
    action: 'refuse',
    rule: 'server-admin',
    reason: 'administers the server (SHUTDOWN, KILL, FLUSH, plugins, federated servers)',
    test: (h) => startsWith(h, 'SHUTDOWN', 'KILL', 'FLUSH', 'INSTALL', 'UNINSTALL', 'CREATE SERVER', 'ALTER SERVER', 'DROP SERVER'),
  },
  {
    action: 'neutralise',
    rule: 'server-schema',
    reason: "creates, drops or switches to one of the server's own schemas (mysql, performance_schema, sys): that part of the dump is left out",
    test: (h) => {
      const first = word(h[0]);
      if (first === 'USE') return SCHEMAS.has(word(h[1]));
      if (['CREATE', 'DROP'].includes(first) && ['DATABASE', 'SCHEMA'].includes(word(h[1]))) {
        const rest = h.slice(2).filter((t) => !['IF', 'NOT', 'EXISTS'].includes(word(t)));
        return SCHEMAS.has(word(rest[0]));
      }
      return false;
    },
  },
  {
    action: 'refuse',
    rule: 'server-schema',
    reason: "reads or writes the server's own schemas (mysql, performance_schema, sys)",
    test: (_h, all) => touchesServerSchema(all()),
  },
];

/** Texts that may hold a word some rule looks for beyond a statement's first words: only then is the whole statement read. */
const DEEP = /global|persist|load_file|outfile|dumpfile|mysql|performance_schema|sys|sql_log_bin|gtid/i;
const HEAD_TOKENS = 8;

/** The first rule a statement breaks, and what it means for it, or null. */
export function judgeStatement(text: string): Verdict | null {
  const head = tokenize(text, HEAD_TOKENS);
  let everything: Token[] | null = null;
  const all = (): readonly Token[] => (everything ??= DEEP.test(text) ? tokenize(text) : head);
  for (const r of RULES) if (r.test(head, all)) return { action: r.action, rule: r.rule, reason: r.reason };
  return null;
}
