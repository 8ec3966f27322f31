import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { PROTECTED_SCHEMAS } from './grants.js';
import { StatementSplitter, tokenize, type Token } from './dump-split.js';

/**
 * What a dump loaded through the service may not do (docs/security.md, "Uploads"). A dump runs
 * with the service user's rights, which already refuse all of it; these rules refuse it before
 * anything is loaded, with the line, so a dump is loaded whole or not at all for these reasons.
 */
export interface Refusal {
  /** The line of the dump where the statement starts. */
  line: number;
  /** A stable name for the rule (`global-setting`, `host-file`, …). */
  rule: string;
  /** Why, in words. */
  reason: string;
}

interface Rule {
  rule: string;
  reason: string;
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

const RULES: readonly Rule[] = [
  {
    rule: 'global-setting',
    reason: 'changes a server-wide setting (SET GLOBAL); a dump may set its own session only',
    test: (h, all) => word(h[0]) === 'SET' && all().some((t) => (t.t === 'word' && ['GLOBAL', 'PERSIST', 'PERSIST_ONLY'].includes(t.v)) || (t.t === 'var' && /^@@(GLOBAL|PERSIST)\./.test(t.v))),
  },
  {
    rule: 'host-file',
    reason: 'reads a file of the host it is loaded on (LOAD DATA LOCAL, LOAD XML LOCAL)',
    test: (h) => startsWith(h, 'LOAD DATA', 'LOAD XML') && h.slice(2, 6).some((t) => word(t) === 'LOCAL'),
  },
  {
    rule: 'server-file',
    reason: "reads or writes a file of the server's host (LOAD DATA INFILE, LOAD_FILE, INTO OUTFILE)",
    test: (h, all) => startsWith(h, 'LOAD DATA', 'LOAD XML') || all().some((t, i, ts) => (word(t) === 'LOAD_FILE') || (word(t) === 'INTO' && ['OUTFILE', 'DUMPFILE'].includes(word(ts[i + 1])))),
  },
  {
    rule: 'accounts',
    reason: "manages accounts or privileges; the service's accounts are managed through its API",
    test: (h) =>
      startsWith(h, 'GRANT', 'REVOKE', 'SET PASSWORD', 'SET DEFAULT ROLE', 'RENAME USER') ||
      (['CREATE', 'ALTER', 'DROP'].includes(word(h[0])) && ['USER', 'ROLE'].includes(word(h[1]) === 'OR' ? word(h[3]) : word(h[1]))),
  },
  {
    rule: 'replication',
    reason: 'controls replication or the binary log, which the service manages',
    test: (h) =>
      startsWith(h, 'CHANGE MASTER', 'CHANGE REPLICATION', 'START SLAVE', 'STOP SLAVE', 'START REPLICA', 'STOP REPLICA', 'START ALL', 'STOP ALL', 'RESET MASTER', 'RESET SLAVE', 'RESET REPLICA', 'PURGE', 'BINLOG'),
  },
  {
    rule: 'server-admin',
    reason: 'administers the server (SHUTDOWN, KILL, FLUSH, plugins, federated servers)',
    test: (h) => startsWith(h, 'SHUTDOWN', 'KILL', 'FLUSH', 'INSTALL', 'UNINSTALL', 'CREATE SERVER', 'ALTER SERVER', 'DROP SERVER'),
  },
  {
    rule: 'server-schema',
    reason: "touches the server's own schemas (mysql, performance_schema, sys)",
    test: (_h, all) => touchesServerSchema(all()),
  },
];

/** Texts that may hold a word some rule looks for beyond a statement's first words: only then is the whole statement read. */
const DEEP = /global|persist|load_file|outfile|dumpfile|mysql|performance_schema|sys/i;
const HEAD_TOKENS = 8;

/** The first rule a statement breaks, or null. */
export function judgeStatement(text: string): Omit<Refusal, 'line'> | null {
  const head = tokenize(text, HEAD_TOKENS);
  let everything: Token[] | null = null;
  const all = (): readonly Token[] => (everything ??= DEEP.test(text) ? tokenize(text) : head);
  for (const r of RULES) if (r.test(head, all)) return { rule: r.rule, reason: r.reason };
  return null;
}

/** What a scan of a whole dump found. */
export interface DumpScan {
  /** How many statements the dump holds. */
  statements: number;
  /** The statements refused, in order (at most `limit`). */
  refusals: Refusal[];
}

/** Reads a dump once and judges every statement. Throws INVALID_PARAMS for a line or statement over 64 MiB. */
export async function scanDump(source: Readable, limit = 10): Promise<DumpScan> {
  const splitter = new StatementSplitter();
  const decoder = new StringDecoder('utf8');
  const result: DumpScan = { statements: 0, refusals: [] };
  const judge = (items: ReturnType<StatementSplitter['push']>): void => {
    for (const it of items) {
      if (it.kind !== 'statement') continue;
      result.statements++;
      if (result.refusals.length >= limit) continue;
      const verdict = judgeStatement(it.text);
      if (verdict) result.refusals.push({ line: it.line, ...verdict });
    }
  };
  for await (const chunk of source) judge(splitter.push(decoder.write(chunk as Buffer)));
  judge(splitter.push(decoder.end()));
  judge(splitter.end());
  return result;
}
