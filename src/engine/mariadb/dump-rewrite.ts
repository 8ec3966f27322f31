import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { judgeStatement, type Refusal } from './dump-policy.js';
import { StatementSplitter, tokenize, type DumpItem } from './dump-split.js';
import { PROTECTED_SCHEMAS } from './grants.js';

/** Statements of one kind left out of a dump (or rewritten), for the warning in load_dump's answer. */
export interface Neutralised {
  /** The rule (`binlog-off`, `gtid-position`, `replication`, `accounts`, `global-setting`, `server-schema`, `definer`). */
  rule: string;
  /** What those statements did, in words. */
  reason: string;
  /** How many. */
  count: number;
  /** The lines of the first few. */
  lines: number[];
}

/** What preparing a dump found and did. */
export interface PreparedDump {
  /** How many statements the dump holds. */
  statements: number;
  /** Statements that make the whole dump refused (at most 10), in order. */
  refusals: Refusal[];
  /** What was left out or rewritten, by rule, in the order first met. */
  neutralised: Neutralised[];
  /** The application databases the dump creates or switches to (`CREATE DATABASE`, `USE`), in order. */
  schemas: string[];
}

const SERVER = new Set<string>([...PROTECTED_SCHEMAS, 'information_schema'].map((s) => s.toUpperCase()));

/**
 * `DEFINER = user@host` (names quoted with backticks or quotes, or bare) or `DEFINER = CURRENT_USER[()]`,
 * as CREATE VIEW, TRIGGER, PROCEDURE, FUNCTION and EVENT carry it (also inside `/*!50017 … *\/`).
 */
const DEFINER = /DEFINER\s*=\s*(?:CURRENT_USER(?:\s*\(\s*\))?|(?:`(?:[^`]|``)*`|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[A-Za-z0-9_.$-]+)\s*@\s*(?:`(?:[^`]|``)*`|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[A-Za-z0-9_.%$:-]+))\s*/gi;

/** The text that replaces a left-out statement: a comment with as many line ends, so every later line keeps its number. */
function placeholder(rule: string, text: string): string {
  const lead = /^\s*/.exec(text)![0];
  const newlines = (text.slice(lead.length).match(/\n/g) ?? []).length;
  return `${lead}/* left out by cps-mysql (${rule}) */${'\n'.repeat(newlines)}`;
}

/**
 * A CREATE statement's text without its DEFINER clause (the object is then defined by the
 * account that loads the dump: the service user, who may not name another definer without SET
 * USER), or null when it has none. Only the head of the statement, before the object's body, is
 * touched.
 */
export function withoutDefiner(text: string): string | null {
  const head = tokenize(text, 12).map((t) => (t.t === 'word' ? t.v : ''));
  if (!head.includes('CREATE') && !head.includes('ALTER')) return null;
  const bodyAt = text.search(/\b(VIEW|TRIGGER|PROCEDURE|FUNCTION|EVENT)\b/i);
  const end = bodyAt < 0 ? Math.min(text.length, 400) : bodyAt;
  const before = text.slice(0, end);
  if (!/DEFINER/i.test(before)) return null;
  const rewritten = before.replace(DEFINER, '');
  return rewritten === before ? null : rewritten + text.slice(end);
}

/** The schema a `CREATE DATABASE` or `USE` names, upper-case tokens aside: its name as written, or null. */
function schemaOf(text: string): { name: string; use: boolean } | null {
  // Leading comment lines go, and executable comments' markers (`/*!32312 IF NOT EXISTS*/`) are read as code.
  const code = text.replace(/^(\s*(--[^\n]*|#[^\n]*)\n)+/, '').replace(/\/\*M?!\d*|\*\//g, ' ');
  const m = /^\s*(?:(USE)\s+|CREATE\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+NOT\s+EXISTS\s+)?)(`(?:[^`]|``)*`|[A-Za-z0-9_$]+)/i.exec(code);
  if (!m) return null;
  const raw = m[2]!;
  return { name: raw.startsWith('`') ? raw.slice(1, -1).replace(/``/g, '`') : raw, use: m[1] !== undefined };
}

/**
 * Reads a dump once, judges every statement (dump-policy.ts) and writes to `sink` the dump that
 * will be loaded: the same text, line for line, with the neutralised statements replaced by a
 * comment and DEFINER clauses taken out; everything after a `USE` of a server schema is left
 * out until the next `USE`. Refusals are collected (the caller loads nothing then). Throws
 * INVALID_PARAMS for a line or statement over 64 MiB, and what `sink` throws.
 */
export async function prepareDump(source: Readable, sink: Writable): Promise<PreparedDump> {
  const splitter = new StatementSplitter();
  const decoder = new StringDecoder('utf8');
  const result: PreparedDump = { statements: 0, refusals: [], neutralised: [], schemas: [] };
  const byRule = new Map<string, Neutralised>();
  let inServerSchema = false;
  const note = (rule: string, reason: string, line: number): void => {
    let n = byRule.get(rule);
    if (!n) {
      n = { rule, reason, count: 0, lines: [] };
      byRule.set(rule, n);
      result.neutralised.push(n);
    }
    n.count++;
    if (n.lines.length < 5) n.lines.push(line);
  };
  const write = (text: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (sink.write(text, 'utf8')) resolve();
      else sink.once('drain', resolve).once('error', reject);
    });
  const handle = async (items: DumpItem[]): Promise<void> => {
    for (const it of items) {
      if (it.kind !== 'statement') {
        await write(it.text);
        continue;
      }
      result.statements++;
      const verdict = judgeStatement(it.text);
      const schema = schemaOf(it.text);
      if (schema?.use) inServerSchema = SERVER.has(schema.name.toUpperCase());
      if (verdict?.action === 'refuse' && !(inServerSchema && verdict.rule === 'server-schema')) {
        if (result.refusals.length < 10) result.refusals.push({ line: it.line, rule: verdict.rule, reason: verdict.reason });
        await write(it.text);
        continue;
      }
      if (verdict?.action === 'neutralise' || inServerSchema) {
        // Everything of a server schema's part counts as that part, whatever else it does.
        const rule = inServerSchema || verdict?.rule === 'server-schema' ? 'server-schema' : verdict!.rule;
        const reason = rule === 'server-schema' ? "belongs to one of the server's own schemas (mysql, performance_schema, sys; an --all-databases dump): that part of the dump is left out" : verdict!.reason;
        note(rule, reason, it.line);
        await write(placeholder(rule, it.text));
        continue;
      }
      if (schema && !result.schemas.includes(schema.name)) result.schemas.push(schema.name);
      const rewritten = withoutDefiner(it.text);
      if (rewritten !== null) note('definer', 'named a DEFINER: the object is defined by the account that loaded the dump (the service user) instead', it.line);
      await write(rewritten ?? it.text);
    }
  };
  for await (const chunk of source) await handle(splitter.push(decoder.write(chunk as Buffer)));
  await handle(splitter.push(decoder.end()));
  await handle(splitter.end());
  await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return result;
}

/** The warning of one kind of statement left out or rewritten, as load_dump's answer says it. */
export function describeNeutralised(n: Neutralised): string {
  const lines = `line${n.lines.length === 1 ? '' : 's'} ${n.lines.join(', ')}${n.count > n.lines.length ? ', …' : ''}`;
  const what = n.rule === 'definer' ? `${n.count} statement${n.count === 1 ? '' : 's'} rewritten` : `${n.count} statement${n.count === 1 ? '' : 's'} left out`;
  return `${what} (${n.rule}, ${lines}): ${n.reason}`;
}
