import { httpStatusFor, jsonRpc2CodeFor } from '../../src/protocol/envelope.js';
import { ERROR_CODES, type ErrorCode } from '../../src/util/errors.js';
import type { HostileRequest } from './arbitraries.js';
import type { RawResponse } from './http.js';

/**
 * Judges one answer against docs/protocol.md, and keeps the table of server bugs the fuzzers
 * found that are not fixed yet (KNOWN_BUGS): an answer that breaks a rule only in the way a
 * known bug does is counted and reported, not failed, so the suites stay useful while the bugs
 * wait. Each known bug also has a pinned reproducer marked `it.fails` in a suite; when a fix
 * lands, that test starts passing, vitest reports it, and its entry here goes.
 */

/** Statuses a hostile request may get (401: the API token, once the manager requires one). */
export const ALLOWED_STATUSES: readonly number[] = [200, 400, 401, 404, 405, 413];
/** An error message longer than this echoes the request back rather than naming the problem. */
export const MAX_MESSAGE = 1024;

export type Rule = 'status' | 'not-json' | 'shape' | 'framing' | 'internal' | 'code' | 'status-of-code' | 'prefix' | 'message' | 'id' | 'succeeded';

export interface Violation {
  rule: Rule;
  detail: string;
}

export interface Answer {
  /** The error code of an error answer, null for a success. */
  code: ErrorCode | null;
  message: string | null;
  json: Record<string, unknown> | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && (ERROR_CODES as readonly string[]).includes(v);
}

/** Every rule an answer breaks (empty when it is right). */
export function judge(req: HostileRequest, res: RawResponse): { violations: Violation[]; answer: Answer } {
  const v: Violation[] = [];
  const answer: Answer = { code: null, message: null, json: null };
  const e = req.expect;
  if (!ALLOWED_STATUSES.includes(res.status)) v.push({ rule: 'status', detail: `HTTP ${res.status}` });
  if (e.noBody) return { violations: v, answer };

  const type = String(res.headers['content-type'] ?? '');
  if (res.status === 200 && e.maySucceed && !type.startsWith('application/json')) {
    // A stream method's answer (sqldump, dump, stream_snapshot).
    if (!/^application\/(octet-stream|sql)/.test(type)) v.push({ rule: 'shape', detail: `a successful stream of type '${type}'` });
    return { violations: v, answer };
  }
  let json: unknown;
  try {
    json = JSON.parse(res.body.toString('utf8'));
  } catch {
    v.push({ rule: 'not-json', detail: `body is not JSON: ${res.body.subarray(0, 120).toString('utf8')}` });
    return { violations: v, answer };
  }
  if (!isRecord(json)) {
    v.push({ rule: 'shape', detail: 'the answer is not a JSON object' });
    return { violations: v, answer };
  }
  answer.json = json;

  const v2 = json['jsonrpc'] === '2.0';
  if (e.framing === 'v2' && !v2) v.push({ rule: 'framing', detail: 'asked for JSON-RPC 2.0, got the ConPaaS envelope' });
  if (e.framing === 'conpaas' && v2) v.push({ rule: 'framing', detail: 'got JSON-RPC 2.0 framing without asking for it' });

  let failed: boolean;
  if (v2) {
    const err = json['error'];
    failed = err !== undefined;
    if (failed) {
      if (Object.hasOwn(json, 'result')) v.push({ rule: 'shape', detail: 'a 2.0 error answer with a result member' });
      if (!isRecord(err) || typeof err['code'] !== 'number' || typeof err['message'] !== 'string' || !isRecord(err['data'])) {
        v.push({ rule: 'shape', detail: `a 2.0 error that is not {code, message, data}: ${JSON.stringify(err).slice(0, 200)}` });
      } else {
        const data = err['data'];
        if (!isCode(data['code'])) v.push({ rule: 'shape', detail: `unknown data.code ${String(data['code'])}` });
        else {
          answer.code = data['code'];
          if (err['code'] !== jsonRpc2CodeFor(answer.code)) v.push({ rule: 'shape', detail: `2.0 code ${String(err['code'])} for ${answer.code}` });
        }
        answer.message = err['message'];
      }
    } else if (!Object.hasOwn(json, 'result')) {
      v.push({ rule: 'shape', detail: 'a 2.0 answer with neither result nor error' });
    }
  } else {
    const hasEnvelope = Object.hasOwn(json, 'result') && Object.hasOwn(json, 'error') && Object.hasOwn(json, 'id');
    if (!hasEnvelope) {
      v.push({ rule: 'shape', detail: `not the {result, error, id} envelope: ${JSON.stringify(json).slice(0, 200)}` });
      return { violations: v, answer };
    }
    failed = json['error'] !== null;
    if (failed) {
      if (json['result'] !== null) v.push({ rule: 'shape', detail: 'an error answer with a non-null result' });
      if (typeof json['error'] !== 'string') v.push({ rule: 'shape', detail: 'error is not a string' });
      else answer.message = json['error'];
      if (!isCode(json['code'])) v.push({ rule: 'shape', detail: `unknown code ${String(json['code'])}` });
      else answer.code = json['code'];
    }
  }

  if (!failed) {
    if (!e.maySucceed) v.push({ rule: 'succeeded', detail: 'a request the server must refuse succeeded' });
    else if (res.status !== 200) v.push({ rule: 'status', detail: `success with HTTP ${res.status}` });
  } else {
    if (answer.message !== null) {
      if (answer.message.trim() === '') v.push({ rule: 'message', detail: 'an empty error message' });
      if (answer.message.length > MAX_MESSAGE) v.push({ rule: 'message', detail: `a ${answer.message.length}-character error message` });
      if (/\n\s+at |\[object Object\]/.test(answer.message)) v.push({ rule: 'message', detail: `an error message with a stack or an unprinted object: ${answer.message.slice(0, 200)}` });
    }
    if (answer.code !== null) {
      if (answer.code === 'INTERNAL') v.push({ rule: 'internal', detail: 'INTERNAL: a hostile request reached a bug' });
      if (res.status !== httpStatusFor(answer.code)) v.push({ rule: 'status-of-code', detail: `${answer.code} with HTTP ${res.status} (documented: ${httpStatusFor(answer.code)})` });
      if (e.codes !== null && !e.codes.includes(answer.code)) v.push({ rule: 'code', detail: `${answer.code} (expected ${e.codes.join(' or ')})` });
      if (answer.code === 'INVALID_PARAMS' && answer.message !== null) {
        if (e.method !== null && !answer.message.startsWith(`${e.method}:`)) v.push({ rule: 'prefix', detail: `INVALID_PARAMS message not starting with '${e.method}:': ${answer.message.slice(0, 120)}` });
        if (e.method === null && !/^[A-Za-z_]+:/.test(answer.message)) v.push({ rule: 'prefix', detail: `INVALID_PARAMS message naming no method: ${answer.message.slice(0, 120)}` });
      }
    }
  }

  if (e.id !== undefined) {
    const got = json['id'];
    const want = e.id;
    const same = got === want || (typeof want === 'string' && want.length > 64 && got === want.slice(0, 64));
    if (!same) v.push({ rule: 'id', detail: `id ${JSON.stringify(got)?.slice(0, 80)} (sent ${JSON.stringify(want)?.slice(0, 80)})` });
  }
  return { violations: v, answer };
}

export interface KnownBug {
  id: string;
  summary: string;
  /** True when this bug explains this violation of this answer. */
  explains(req: HostileRequest, res: RawResponse, answer: Answer, violation: Violation): boolean;
  /** True for a request this bug makes kill the server: not sent while the bug is open. */
  kills?(req: HostileRequest): boolean;
  /** True when this bug explains a request that got no answer at all (the connection failed). */
  explainsNoAnswer?(req: HostileRequest, err: Error): boolean;
}

const bodyText = (res: RawResponse): string => res.body.subarray(0, 400).toString('utf8');

/**
 * Bugs found by these suites that are still open. The others they found (a truncated upload
 * that killed the process, multipart errors answered INTERNAL, the form's method field ignored,
 * an incomplete upload reported as an unreachable agent, envelopes missing for a bad URL or
 * oversized headers, digit ids turned into numbers, huge names echoed in errors, invalid UTF-8
 * read with U+FFFD, a trickled body never cut off) are fixed and pinned as plain tests.
 */
export const KNOWN_BUGS: readonly KnownBug[] = [
  {
    id: 'over-limit-body-reset',
    summary:
      'a body over the 1 MiB limit is sometimes answered by a reset connection (EPIPE/ECONNRESET while the client still sends) instead of a readable 413: the server answers and closes without draining the rest of the body',
    explains: () => false,
    explainsNoAnswer: (req, err) => req.tags.includes('over-limit') && (/EPIPE|ECONNRESET|ECONNABORTED/.test(String((err as NodeJS.ErrnoException).code)) || /EPIPE|ECONNRESET|socket hang up|ended by the other party/.test(err.message)),
  },
];

/**
 * Whether a request may be sent: not one a known bug makes kill the server (that bug has its own
 * pinned test on a throwaway process). CPS_MYSQL_FUZZ_KNOWN_CRASHERS=1 sends them anyway, to
 * check a fix.
 */
export function sendable(req: HostileRequest): boolean {
  if (process.env['CPS_MYSQL_FUZZ_KNOWN_CRASHERS'] === '1') return true;
  return !KNOWN_BUGS.some((b) => b.kills?.(req) === true);
}

export interface Tally {
  requests: number;
  byKind: Map<string, number>;
  byCode: Map<string, number>;
  byMethod: Map<string, number>;
  knownBugHits: Map<string, { count: number; example: string }>;
  succeeded: number;
  slowestMs: number;
}

export function newTally(names: readonly string[]): Tally {
  return { requests: 0, byKind: new Map(), byCode: new Map(), byMethod: new Map(names.map((n) => [n, 0])), knownBugHits: new Map(), succeeded: 0, slowestMs: 0 };
}

const bump = (m: Map<string, number>, k: string): void => {
  m.set(k, (m.get(k) ?? 0) + 1);
};

/**
 * Judges an answer and records it; throws (failing the property) on any violation no known
 * bug explains.
 */
export function checkAnswer(req: HostileRequest, res: RawResponse, tally: Tally, describe: (r: HostileRequest) => string): void {
  const { violations, answer } = judge(req, res);
  tally.requests++;
  bump(tally.byKind, req.kind);
  bump(tally.byCode, answer.code ?? (violations.length === 0 ? 'ok' : `HTTP ${res.status}`));
  if (req.target !== null) bump(tally.byMethod, req.target);
  if (answer.code === null && violations.length === 0 && !req.expect.noBody) tally.succeeded++;
  tally.slowestMs = Math.max(tally.slowestMs, res.ms);
  const unexplained: Violation[] = [];
  const bugs = new Set<string>();
  for (const viol of violations) {
    const bug = KNOWN_BUGS.find((b) => b.explains(req, res, answer, viol));
    if (bug) bugs.add(bug.id);
    else unexplained.push(viol);
  }
  for (const id of bugs) {
    const hit = tally.knownBugHits.get(id);
    if (hit) hit.count++;
    else tally.knownBugHits.set(id, { count: 1, example: describe(req).slice(0, 300) });
  }
  if (unexplained.length > 0) {
    throw new Error(
      `${unexplained.map((x) => `[${x.rule}] ${x.detail}`).join('; ')}\n  request: ${describe(req)}\n  answer: HTTP ${res.status} ${bodyText(res).slice(0, 300)}\n  expected: ${JSON.stringify(req.expect)}`,
    );
  }
}

/** A request that got no answer: fine only when a known bug explains it (then counted); else rethrown. */
export function checkNoAnswer(req: HostileRequest, err: unknown, tally: Tally, describe: (r: HostileRequest) => string): void {
  const e = err instanceof Error ? err : new Error(String(err));
  const bug = KNOWN_BUGS.find((b) => b.explainsNoAnswer?.(req, e) === true);
  if (!bug) throw new Error(`no answer: ${e.message}\n  request: ${describe(req)}\n  expected: ${JSON.stringify(req.expect)}`);
  tally.requests++;
  bump(tally.byKind, req.kind);
  bump(tally.byCode, 'no answer');
  if (req.target !== null) bump(tally.byMethod, req.target);
  const hit = tally.knownBugHits.get(bug.id);
  if (hit) hit.count++;
  else tally.knownBugHits.set(bug.id, { count: 1, example: describe(req).slice(0, 300) });
}

/** The tally in a few lines, for the test's output. */
export function formatTally(t: Tally): string {
  const line = (m: Map<string, number>): string =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k}=${n}`)
      .join(' ');
  const bugs = [...t.knownBugHits.entries()].map(([id, h]) => `  ${id}: ${h.count}× e.g. ${h.example}`).join('\n');
  return [
    `${t.requests} requests, ${t.succeeded} valid read-only calls succeeded, slowest answer ${t.slowestMs} ms`,
    `kinds: ${line(t.byKind)}`,
    `answers: ${line(t.byCode)}`,
    `methods: ${line(t.byMethod)}`,
    `known server bugs hit:${bugs ? `\n${bugs}` : ' none'}`,
  ].join('\n');
}

/** Runs and seed: CPS_MYSQL_FUZZ_RUNS (default 300), CPS_MYSQL_FUZZ_SEED (default fixed). */
export function fuzzSettings(defaultRuns = 300): { runs: number; seed: number } {
  const runs = Number.parseInt(process.env['CPS_MYSQL_FUZZ_RUNS'] ?? '', 10);
  const seed = Number.parseInt(process.env['CPS_MYSQL_FUZZ_SEED'] ?? '', 10);
  return { runs: Number.isInteger(runs) && runs > 0 ? runs : defaultRuns, seed: Number.isInteger(seed) ? seed : 20_240_505 };
}
