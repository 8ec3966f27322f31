import fc, { type Arbitrary } from 'fast-check';
import { z } from 'zod';
import type { MethodMap, MethodSpec } from '../../src/protocol/method.js';
import type { ErrorCode } from '../../src/util/errors.js';

/**
 * Hostile requests for the JSON-RPC transport (docs/protocol.md), generated from a method map.
 *
 * Each request carries what the server must answer (`Expectation`), worked out by a small model
 * of the documented wire contract (`expectDispatch` and the `judge*` functions below), and the
 * generator refuses to produce any request that could change state: a state-changing method
 * (every method that is not a GET) only ever gets parameters its own zod schema refuses
 * (`spec.params.safeParse(...)` fails), in whatever form the server will see them (after UTF-8
 * decoding, JSON parsing, the last of duplicate keys, `null` or no params meaning `{}`, a form
 * field cut at its size limit), whatever the verb. The one deliberate exception is an upload cut
 * short inside its file: its file is `MARKER_SQL`, so the tests check afterwards that nothing
 * was loaded.
 */

/** The transport's JSON body limit (server.ts DEFAULT_BODY_LIMIT). */
export const BODY_LIMIT = 1024 * 1024;
/** Node's default limit on the request line and headers together. */
export const HEADER_LIMIT = 16 * 1024;
/** server.ts's multipart limits. */
export const MULTIPART_FIELDS = 8;
export const MULTIPART_PARTS = 16;
export const MULTIPART_FIELD_SIZE = 64 * 1024;

/** A database the uploads carry; if it ever exists, a truncated upload was loaded. */
export const MARKER_DB = 'fuzz_truncated_upload';
const MARKER_SQL = `CREATE DATABASE IF NOT EXISTS ${MARKER_DB};\n`;

export type Framing = 'conpaas' | 'v2' | 'either';

/** What the server must answer to one request. */
export interface Expectation {
  /** The error codes a correct server may answer with; null: too odd to predict (any non-INTERNAL code). */
  codes: readonly ErrorCode[] | null;
  /** A valid call of a read-only method: it may succeed (or fail for a domain reason). */
  maySucceed: boolean;
  framing: Framing;
  /** The id the answer must carry; undefined: not checked. */
  id?: number | string | null;
  /** The method the server dispatches, which an INVALID_PARAMS message must start with. */
  method: string | null;
  /** A HEAD request: the answer has no body. */
  noBody?: boolean;
}

export interface HostileRequest {
  /** The family of hostility, for the reports. */
  kind: string;
  verb: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | null;
  chunked: boolean;
  /** The method of the map this request was generated for (coverage), or null. */
  target: string | null;
  expect: Expectation;
  /** Notes the known-bug table reads (e.g. 'multipart-malformed', 'multipart-no-file'). */
  tags: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// The methods' schemas.

/** A GET method reads; every other one may change state. */
export function isReadOnly(spec: MethodSpec): boolean {
  return spec.verb === 'GET';
}

/** Whether the server would run the handler with these raw params (it reads null and absence as `{}`). */
export function paramsAccepted(spec: MethodSpec, raw: unknown): boolean {
  const input = raw === undefined || raw === null ? {} : raw;
  if (typeof input !== 'object' || Array.isArray(input)) return false;
  return spec.params.safeParse(input).success;
}

/** A form field as the parser keeps it: cut at the field size limit, in bytes. */
function fieldValue(value: string): string {
  const b = Buffer.from(value);
  return b.length > MULTIPART_FIELD_SIZE ? b.subarray(0, MULTIPART_FIELD_SIZE).toString('utf8') : value;
}

function unwrap(s: z.ZodTypeAny): z.ZodTypeAny {
  let cur = s;
  for (let i = 0; i < 10; i++) {
    if (cur instanceof z.ZodEffects) cur = cur.innerType() as z.ZodTypeAny;
    else if (cur instanceof z.ZodOptional || cur instanceof z.ZodNullable) cur = cur.unwrap() as z.ZodTypeAny;
    else break;
  }
  return cur;
}

/** Parameter names of a schema, nested ones included (`master.host` gives `master` and `host`). */
function collectKeys(s: z.ZodTypeAny, into: Set<string>, depth = 0): void {
  if (depth > 5) return;
  const u = unwrap(s);
  if (u instanceof z.ZodObject) {
    for (const [k, v] of Object.entries(u.shape as Record<string, z.ZodTypeAny>)) {
      into.add(k);
      collectKeys(v, into, depth + 1);
    }
  } else if (u instanceof z.ZodArray) {
    collectKeys(u.element as z.ZodTypeAny, into, depth + 1);
  }
}

function topKeys(spec: MethodSpec): string[] {
  const u = unwrap(spec.params);
  return u instanceof z.ZodObject ? Object.keys(u.shape as Record<string, unknown>) : [];
}

// ---------------------------------------------------------------------------------------------
// Values, as JSON text (so keys such as __proto__ and depths V8 would not build survive).

const PLAUSIBLE: readonly unknown[] = [
  '', 'x', 'node-1', 'node-2', 'node-99', 'local', 'ec2', 'agent', 'repl', 'root', 'mysqldb', 'app', '0-1-1', '0-1-999999', '128M', '1G', '127.0.0.1', 'localhost',
  'true', 'null', '{}', '1', ' node-1', 'node 1', "node'1", 'a"b', 'x\\y', 'é', '\u0000', '😀',
  0, 1, 2, 7, 16, 17, -1, 3306, 65535, 65536, 4294967295, 4294967296, 0.5, -0.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER, true, false, null,
];

const plausibleJson: Arbitrary<string> = fc.constantFrom(...PLAUSIBLE).map((v) => JSON.stringify(v));

const scalarJson: Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: plausibleJson },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.double().map((d) => JSON.stringify(d)) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map((s) => JSON.stringify(s)) },
  // Number literals JSON allows and JavaScript reads oddly.
  { weight: 1, arbitrary: fc.constantFrom('1e999', '-1e999', '-0', '1E2', '0.0000000000000000000001', '123456789012345678901234567890', '1.0') },
);

/** Strings from 1,000 characters to about 200 KB, of a character JSON escapes, or not. */
export const hugeString: Arbitrary<string> = fc
  .record({ unit: fc.constantFrom('a', 'é', '"', '\\', '\u0000', '😀', 'node-1', ' ', '\n'), length: fc.integer({ min: 1_000, max: 200_000 }) })
  .map(({ unit, length }) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length));

/** Nesting from 1,000 to 10,000 levels, built as text. */
export const deepJson: Arbitrary<string> = fc
  .record({ depth: fc.integer({ min: 1_000, max: 10_000 }), shape: fc.constantFrom('array', 'object', 'mixed'), leaf: plausibleJson })
  .map(({ depth, shape, leaf }) => {
    if (shape === 'array') return `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
    if (shape === 'object') return `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
    const open: string[] = [];
    const close: string[] = [];
    for (let i = 0; i < depth; i++) {
      open.push(i % 2 === 0 ? '[' : '{"b":');
      close.push(i % 2 === 0 ? ']' : '}');
    }
    return `${open.join('')}${leaf}${close.reverse().join('')}`;
  });

const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', ' ', '\u0000', 'method', 'params', 'id', 'jsonrpc'];

function objectText(entries: ReadonlyArray<readonly [string, string]>): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

interface ValueArbs {
  key: Arbitrary<string>;
  value: Arbitrary<string>;
}

/** Keys and values for one map: its own parameter names come up often, hostile ones now and then. */
function valueArbs(allKeys: readonly string[]): ValueArbs {
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...allKeys) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_KEYS) },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 100_000 }).map((n) => 'k'.repeat(n)) },
  );
  const compound = fc.oneof(
    fc.array(scalarJson, { maxLength: 4 }).map((a) => `[${a.join(',')}]`),
    fc.array(fc.tuple(key, scalarJson), { maxLength: 4 }).map(objectText),
    // A replication source or peer address that is almost right.
    fc
      .record({ host: plausibleJson, port: plausibleJson, user: plausibleJson, password: plausibleJson, drop: fc.constantFrom('host', 'port', 'user', 'password', 'none') })
      .map((r) => objectText((['host', 'port', 'user', 'password'] as const).filter((k) => k !== r.drop).map((k) => [k, r[k]] as const))),
  );
  const value = fc.oneof(
    { weight: 8, arbitrary: scalarJson },
    { weight: 4, arbitrary: compound },
    { weight: 1, arbitrary: hugeString.map((s) => JSON.stringify(s)) },
    { weight: 1, arbitrary: deepJson },
  );
  return { key, value };
}

/** Params for one method, as JSON text, or undefined for "no params at all". */
function paramsText(spec: MethodSpec, v: ValueArbs): Arbitrary<string | undefined> {
  const own = topKeys(spec);
  const ownKey = own.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...own) }, { weight: 2, arbitrary: v.key }) : v.key;
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant('null') },
    { weight: 10, arbitrary: fc.array(fc.tuple(ownKey, v.value), { maxLength: 5 }).map(objectText) },
    { weight: 2, arbitrary: v.value },
  );
}

// ---------------------------------------------------------------------------------------------
// The server's view of a request (docs/protocol.md), for the expectations and the safety check.

function parseJsonOrUndefined(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** Text as the server decodes a body: UTF-8 with replacement characters, a leading BOM dropped. */
function decode(bytes: Buffer): string {
  const s = bytes.toString('utf8');
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

function validUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** A `__proto__` key, or a `constructor` key holding a `prototype`, anywhere (fastify refuses those). */
function poisoned(v: unknown): boolean {
  const stack: unknown[] = [v];
  while (stack.length > 0) {
    const o = stack.pop();
    if (typeof o !== 'object' || o === null) continue;
    if (Object.hasOwn(o, '__proto__')) return true;
    const c = (o as Record<string, unknown>)['constructor'];
    if (Object.hasOwn(o, 'constructor') && typeof c === 'object' && c !== null && Object.hasOwn(c, 'prototype')) return true;
    for (const x of Object.values(o)) stack.push(x);
  }
  return false;
}

/** The id as the documentation promises it back: numbers and strings (long strings may be cut to 64 characters); anything else null. */
function idFromJson(v: unknown): number | string | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') return v;
  return null;
}

/** The id of a query or form field, which is always text: digits are read as a number. */
function idFromText(v: string | undefined): number | string | null {
  if (v === undefined) return null;
  const s = v.slice(0, 64);
  return /^-?[0-9]{1,15}$/.test(s) ? Number(s) : s;
}

interface Dispatch {
  codes: ErrorCode[] | null;
  maySucceed: boolean;
  method: string | null;
  /** The handler of a state-changing method would run: the generator must drop this request. */
  unsafe: boolean;
  /** The handler of an upload method would run (with whatever file came). */
  uploads: boolean;
}

/** What `dispatch` in server.ts must do with a method name and raw params. */
function expectDispatch(methods: MethodMap, name: unknown, rawParams: unknown, verb: 'GET' | 'POST' | 'UPLOAD'): Dispatch {
  const no = (codes: ErrorCode[], method: string | null = null): Dispatch => ({ codes, maySucceed: false, method, unsafe: false, uploads: false });
  if (name === undefined || name === null || name === '' || typeof name !== 'string') return no(['NO_METHOD']);
  if (!Object.hasOwn(methods, name)) return no(['METHOD_NOT_FOUND']);
  const spec = methods[name]!;
  if (spec.verb === 'UPLOAD' && verb !== 'UPLOAD') return no(['WRONG_VERB'], name);
  if (spec.verb === 'POST' && verb !== 'POST') return no(['WRONG_VERB'], name);
  if (spec.verb !== 'UPLOAD' && verb === 'UPLOAD') return no(['WRONG_VERB'], name);
  if (!paramsAccepted(spec, rawParams)) return no(['INVALID_PARAMS'], name);
  if (spec.verb === 'UPLOAD') return { codes: null, maySucceed: false, method: name, unsafe: false, uploads: true };
  if (isReadOnly(spec)) return { codes: null, maySucceed: true, method: name, unsafe: false, uploads: false };
  return { codes: null, maySucceed: false, method: name, unsafe: true, uploads: false };
}

interface Judged {
  expect: Expectation;
  unsafe: boolean;
}

/** A POST (or any verb) with a body the server would read as JSON. */
function judgeJsonBody(methods: MethodMap, body: Buffer, contentType: string | null): Judged {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  // The safety check reads the body as JSON whatever its type and size: conservative.
  const text = decode(body);
  const parsed = parseJsonOrUndefined(text);
  const obj = parsed.ok && typeof parsed.value === 'object' && parsed.value !== null && !Array.isArray(parsed.value) ? (parsed.value as Record<string, unknown>) : null;
  const d = obj ? expectDispatch(methods, obj['method'], obj['params'], 'POST') : null;
  const unsafe = d?.unsafe === true || d?.uploads === true;
  const conpaas = (codes: ErrorCode[] | null): Judged => ({ expect: { codes, maySucceed: false, framing: 'conpaas', id: null, method: null }, unsafe });
  if (media !== 'application/json') {
    if (media === '' && body.length === 0) return conpaas(['PARSE_ERROR']);
    if (media === 'multipart/form-data') return conpaas(null);
    return conpaas(['PARSE_ERROR', 'TOO_LARGE']);
  }
  if (body.length > BODY_LIMIT) return conpaas(['TOO_LARGE']);
  // A JSON body must be valid UTF-8 (docs/protocol.md): nothing is read with U+FFFD.
  if (!validUtf8(body)) return conpaas(['PARSE_ERROR']);
  if (!parsed.ok || poisoned(parsed.value) || obj === null || d === null) return conpaas(['PARSE_ERROR']);
  return {
    expect: { codes: d.codes, maySucceed: d.maySucceed, framing: obj['jsonrpc'] === '2.0' ? 'v2' : 'conpaas', id: idFromJson(obj['id']), method: d.method },
    unsafe,
  };
}

/** A GET: the first `method`, `params`, `id` and `jsonrpc` of the query count. */
function judgeQuery(methods: MethodMap, pairs: ReadonlyArray<readonly [string, string]>, verb: 'GET' | 'HEAD', pathLength: number): Judged {
  const first = (k: string): string | undefined => pairs.find(([key]) => key === k)?.[1];
  // Safety: every method and params value in the query, in any combination.
  const methodsNamed = pairs.filter(([k]) => k === 'method').map(([, v]) => v);
  const paramsGiven = pairs.filter(([k]) => k === 'params').map(([, v]) => v);
  const candidates: unknown[] = paramsGiven.length === 0 ? [{}] : paramsGiven.map((p) => parseJsonOrUndefined(p)).filter((p) => p.ok).map((p) => (p as { value: unknown }).value);
  if (paramsGiven.length > 0 && candidates.length < paramsGiven.length) candidates.push({});
  const unsafe = methodsNamed.some((m) => Object.hasOwn(methods, m) && !isReadOnly(methods[m]!) && candidates.some((c) => paramsAccepted(methods[m]!, c)));
  const noBody = verb === 'HEAD';
  const judged = judgeQueryContent(methods, first, noBody);
  if (pathLength > HEADER_LIMIT) {
    // Over Node's limit on the request line and headers: only the size can be refused.
    return { expect: { codes: ['TOO_LARGE'], maySucceed: false, framing: 'either', method: null, noBody }, unsafe };
  }
  if (pathLength > HEADER_LIMIT - 1024) {
    // Near the limit (the headers count too): either answer.
    const e = judged.expect;
    return { expect: { ...e, codes: e.codes === null ? null : [...e.codes, 'TOO_LARGE'], framing: 'either' }, unsafe: unsafe || judged.unsafe };
  }
  return { expect: judged.expect, unsafe: unsafe || judged.unsafe };
}

function judgeQueryContent(methods: MethodMap, first: (k: string) => string | undefined, noBody: boolean): Judged {
  const framing: Framing = first('jsonrpc') === '2.0' ? 'v2' : 'conpaas';
  const id = idFromText(first('id'));
  const rawParams = first('params');
  let params: unknown = {};
  if (rawParams !== undefined) {
    const p = parseJsonOrUndefined(rawParams);
    if (!p.ok) return { expect: { codes: ['PARSE_ERROR'], maySucceed: false, framing, id, method: null, noBody }, unsafe: false };
    params = p.value;
  }
  const d = expectDispatch(methods, first('method'), params, 'GET');
  return { expect: { codes: d.codes, maySucceed: d.maySucceed, framing, id, method: d.method, noBody }, unsafe: d.unsafe };
}

// ---------------------------------------------------------------------------------------------
// Multipart bodies, built part by part so the model knows where a cut falls.

export type Part =
  | { kind: 'field'; name: string; value: string; contentType?: string }
  | { kind: 'file'; name: string; content: Buffer };

interface MultipartShape {
  parts: Part[];
  boundary: string;
  /** Byte offset the body is cut at; null: complete, with its closing delimiter. */
  cutAt: number | null;
  /** Query-string method (the server reads it when no field names one). */
  queryMethod: string | null;
  /** Query-string id (the answer carries it unless an `id` field comes before the file). */
  queryId: string | null;
  contentType: 'normal' | 'no-boundary' | 'empty-boundary' | 'other-boundary' | 'mixed';
  lineEnd: '\r\n' | '\n';
}

interface BuiltMultipart {
  body: Buffer;
  /** For each part: where its headers end and where its value or content ends (before the delimiter). */
  spans: Array<{ headersEnd: number; valueEnd: number; delimiterEnd: number }>;
}

function buildMultipart(shape: MultipartShape): BuiltMultipart {
  const nl = shape.lineEnd;
  const chunks: Buffer[] = [];
  let at = 0;
  const push = (b: Buffer): void => {
    chunks.push(b);
    at += b.length;
  };
  const spans: BuiltMultipart['spans'] = [];
  push(Buffer.from(`--${shape.boundary}${nl}`));
  shape.parts.forEach((p, i) => {
    const head =
      p.kind === 'field'
        ? `Content-Disposition: form-data; name="${p.name}"${nl}${p.contentType ? `Content-Type: ${p.contentType}${nl}` : ''}${nl}`
        : `Content-Disposition: form-data; name="${p.name}"; filename="upload.sql"${nl}Content-Type: application/octet-stream${nl}${nl}`;
    push(Buffer.from(head));
    const headersEnd = at;
    push(p.kind === 'field' ? Buffer.from(p.value) : p.content);
    const valueEnd = at;
    const last = i === shape.parts.length - 1;
    push(Buffer.from(`${nl}--${shape.boundary}${last ? `--${nl}` : nl}`));
    spans.push({ headersEnd, valueEnd, delimiterEnd: valueEnd + nl.length + 2 + shape.boundary.length });
  });
  if (shape.parts.length === 0) push(Buffer.from(`--${shape.boundary}--${nl}`));
  const body = Buffer.concat(chunks);
  return { body: shape.cutAt === null ? body : body.subarray(0, Math.min(shape.cutAt, body.length)), spans };
}

function multipartContentType(shape: MultipartShape): string {
  switch (shape.contentType) {
    case 'normal':
      return `multipart/form-data; boundary=${shape.boundary}`;
    case 'no-boundary':
      return 'multipart/form-data';
    case 'empty-boundary':
      return 'multipart/form-data; boundary=';
    case 'other-boundary':
      return `multipart/form-data; boundary=${shape.boundary}x`;
    case 'mixed':
      return `multipart/mixed; boundary=${shape.boundary}`;
  }
}

/**
 * What handleUpload in server.ts must do, part by part, as docs/protocol.md describes it: the
 * fields before the file name the method (or the query does), `params` and `id`; the file runs
 * the method; a body that breaks the multipart format is a PARSE_ERROR, one over the form
 * limits is TOO_LARGE; without a file, an upload method misses its file and any other method
 * was sent the wrong way.
 */
function judgeMultipart(methods: MethodMap, shape: MultipartShape, built: BuiltMultipart): Judged & { tags: string[] } {
  const tags: string[] = [];
  const cut = shape.cutAt === null ? Infinity : shape.cutAt;
  // Safety first, conservatively: an upload method, a file in one of its fields that reaches
  // its closing delimiter, and params (if any plain params field precedes it) that the schema takes.
  let unsafe = false;
  const before: Part[] = [];
  shape.parts.forEach((p, i) => {
    const span = built.spans[i]!;
    // A file the body ends inside of (its stream fails while the server holds it).
    if (p.kind === 'file' && span.headersEnd <= cut && cut < span.delimiterEnd && !tags.includes('file-cut')) tags.push('file-cut');
    if (p.kind === 'file') {
      const methodNames = [shape.queryMethod, ...before.filter((f) => f.kind === 'field' && f.name === 'method').map((f) => (f as { value: string }).value)];
      const paramFields = before.filter((f): f is Extract<Part, { kind: 'field' }> => f.kind === 'field' && f.name === 'params');
      const candidates: unknown[] = [];
      if (paramFields.length === 0 || paramFields.some((f) => f.contentType !== undefined)) candidates.push({});
      for (const f of paramFields) {
        for (const text of [f.value, fieldValue(f.value)]) {
          const v = parseJsonOrUndefined(text);
          if (v.ok) candidates.push(v.value);
        }
      }
      for (const m of methodNames) {
        if (m === null || !Object.hasOwn(methods, m)) continue;
        const spec = methods[m]!;
        if (spec.verb === 'UPLOAD' && (spec.files ?? []).includes(p.name) && span.delimiterEnd <= cut && candidates.some((c) => paramsAccepted(spec, c))) unsafe = true;
        if (!isReadOnly(spec) && spec.verb !== 'UPLOAD' && candidates.some((c) => paramsAccepted(spec, c))) unsafe = true;
      }
    }
    before.push(p);
  });
  // Without a file the server runs no upload, but a JSON method named in a field must still
  // get params its schema refuses (a field's params, or none at all, which means `{}`).
  {
    const methodNames = [shape.queryMethod, ...shape.parts.filter((f) => f.kind === 'field' && f.name === 'method').map((f) => (f as { value: string }).value)];
    const candidates: unknown[] = [{}];
    for (const f of shape.parts) {
      if (f.kind !== 'field' || f.name !== 'params') continue;
      for (const text of [f.value, fieldValue(f.value)]) {
        const v = parseJsonOrUndefined(text);
        if (v.ok) candidates.push(v.value);
      }
    }
    for (const m of methodNames) {
      if (m === null || !Object.hasOwn(methods, m)) continue;
      const spec = methods[m]!;
      if (!isReadOnly(spec) && spec.verb !== 'UPLOAD' && candidates.some((c) => paramsAccepted(spec, c))) unsafe = true;
    }
  }

  // Codes a malformed part also allows: the parser may refuse the whole body for it.
  const alsoOk = new Set<ErrorCode>();
  const done = (codes: ErrorCode[] | null, method: string | null = null, id?: number | string | null): Judged & { tags: string[] } => ({
    expect: { codes: codes === null ? null : [...new Set([...codes, ...alsoOk])], maySucceed: false, framing: 'conpaas', method, ...(id !== undefined ? { id } : {}) },
    unsafe,
    tags,
  });
  /** Without a file: the method named was sent the wrong way, or misses its file. */
  const noFile = (named: string | null): ErrorCode => {
    if (named === null || named === '') return 'NO_METHOD';
    if (!Object.hasOwn(methods, named)) return 'METHOD_NOT_FOUND';
    return methods[named]!.verb === 'UPLOAD' ? 'INVALID_PARAMS' : 'WRONG_VERB';
  };
  const known = (named: string | null): string | null => (named !== null && Object.hasOwn(methods, named) ? named : null);
  if (shape.contentType === 'mixed') return done(['PARSE_ERROR']);
  tags.push('multipart');
  if (shape.contentType !== 'normal' || shape.lineEnd !== '\r\n') {
    tags.push('multipart-malformed');
    if (shape.contentType === 'no-boundary') return done(['PARSE_ERROR']);
    // A boundary that matches nothing: no part is found, as if the form were empty. An empty
    // boundary may still split the body into parts, past the form's limits.
    if (shape.lineEnd === '\r\n') return done(['PARSE_ERROR', 'TOO_LARGE', noFile(shape.queryMethod)], known(shape.queryMethod));
    return done(null);
  }

  const malformed = (...codes: ErrorCode[]): void => {
    if (!tags.includes('multipart-malformed')) tags.push('multipart-malformed');
    for (const c of codes) alsoOk.add(c);
  };
  const fields: Record<string, string> = {};
  let method = shape.queryMethod;
  let fieldCount = 0;
  for (let i = 0; i < shape.parts.length; i++) {
    const p = shape.parts[i]!;
    const span = built.spans[i]!;
    // The parser hands a part over once its headers are in, a file once a byte of it is.
    if (span.headersEnd > cut || (p.kind === 'file' && span.headersEnd >= cut)) break;
    // Over the form's limits the parser drops the part (and may refuse the body).
    if (i + 1 > MULTIPART_PARTS || (p.kind === 'field' && fieldCount + 1 > MULTIPART_FIELDS)) {
      malformed('TOO_LARGE', 'PARSE_ERROR');
      continue;
    }
    // A name that would shadow an Object.prototype member: the parser drops it.
    if (p.name in Object.prototype) {
      malformed('PARSE_ERROR');
      continue;
    }
    if (p.kind === 'field') {
      if (span.delimiterEnd > cut) break;
      fieldCount++;
      if (p.contentType?.startsWith('application/json')) {
        // A JSON-typed field is parsed by the form parser (and then not text the server reads).
        if (!parseJsonOrUndefined(p.value).ok || Buffer.byteLength(p.value) > MULTIPART_FIELD_SIZE) malformed('PARSE_ERROR');
        continue;
      }
      fields[p.name] = fieldValue(p.value);
      continue;
    }
    // The file: it runs the method named so far.
    method = fields['method'] ?? method;
    const id = idFromText(fields['id'] ?? shape.queryId ?? undefined);
    const spec = method !== null && Object.hasOwn(methods, method) ? methods[method] : undefined;
    if (spec?.files && !spec.files.includes(p.name)) return done(['INVALID_PARAMS'], method, id);
    let rawParams: unknown = {};
    if (fields['params'] !== undefined) {
      const v = parseJsonOrUndefined(fields['params']);
      if (!v.ok) return done(['PARSE_ERROR'], method, id);
      rawParams = v.value;
    }
    const d = expectDispatch(methods, method, rawParams, 'UPLOAD');
    if (d.uploads) {
      // Only reached with a file cut short (the generator drops complete ones): the handler
      // sees its stream fail, and must say the upload did not complete.
      tags.push('multipart-truncated-file');
      return done(['INVALID_PARAMS', 'PARSE_ERROR'], method, id);
    }
    return done(d.codes, d.method, id);
  }
  // No file: the method named by a field (or the query) was sent the wrong way, or misses its file.
  tags.push('multipart-no-file');
  const named = fields['method'] ?? method;
  return done(shape.cutAt !== null ? ['PARSE_ERROR', noFile(named)] : [noFile(named)], known(named));
}

// ---------------------------------------------------------------------------------------------
// The generators.

/** `arb` one time in `oneIn`, else undefined. */
function rarely<T>(arb: Arbitrary<T>, oneIn: number): Arbitrary<T | undefined> {
  return fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
}

/** `arb` one time in `oneIn`, else null. */
function sometimes<T>(arb: Arbitrary<T>, oneIn: number): Arbitrary<T | null> {
  return fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
}

const INVALID_UTF8: readonly number[][] = [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xe2, 0x82]];

type Corruption = { kind: 'truncate'; at: number } | { kind: 'invalid-utf8'; at: number; bytes: number[] } | { kind: 'flip'; at: number; byte: number } | { kind: 'bom' } | { kind: 'append'; text: string };

const corruption: Arbitrary<Corruption> = fc.oneof(
  fc.double({ min: 0, max: 1, noNaN: true }).map((at) => ({ kind: 'truncate' as const, at })),
  fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), bytes: fc.constantFrom(...INVALID_UTF8) }).map((r) => ({ kind: 'invalid-utf8' as const, ...r })),
  fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), byte: fc.integer({ min: 0, max: 255 }) }).map((r) => ({ kind: 'flip' as const, ...r })),
  fc.constant({ kind: 'bom' as const }),
  fc.constantFrom('}', ',', ' x', '\u0000', '{}', ']').map((text) => ({ kind: 'append' as const, text })),
);

function corrupt(body: Buffer, c: Corruption): Buffer {
  const pos = (at: number): number => Math.min(body.length, Math.floor(at * body.length));
  switch (c.kind) {
    case 'truncate':
      return body.subarray(0, pos(c.at));
    case 'invalid-utf8': {
      const p = pos(c.at);
      return Buffer.concat([body.subarray(0, p), Buffer.from(c.bytes), body.subarray(p)]);
    }
    case 'flip': {
      const b = Buffer.from(body);
      if (b.length > 0) b[Math.min(b.length - 1, pos(c.at))] = c.byte;
      return b;
    }
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]);
    case 'append':
      return Buffer.concat([body, Buffer.from(c.text)]);
  }
}

const JSON_CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json; charset=latin1'];
const OTHER_CONTENT_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'application/json-patch+json', 'application/octet-stream', 'multipart/form-data', 'multipart/form-data; boundary=zz'];

/** Where padding goes to reach the body limit, and how much. */
const padding: Arbitrary<number | null> = fc.oneof(
  { weight: 12, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.integer({ min: BODY_LIMIT - 200, max: BODY_LIMIT + 200 }) },
  { weight: 1, arbitrary: fc.integer({ min: BODY_LIMIT + 1, max: 3 * BODY_LIMIT }) },
);

const idJson: Arbitrary<string> = fc.oneof(
  fc.integer().map(String),
  fc.constantFrom('0', '-1', '1.5', '1e308', '1e999', '-0', 'null', 'true', '[]', '{}', '[1]', '"42"', '"007"', '"-3"', '"1234567890123456"', '"12345678901234567890"', '"abc"', '""'),
  fc.string({ unit: 'grapheme', maxLength: 100 }).map((s) => JSON.stringify(s)),
  fc.integer({ min: 65, max: 5_000 }).map((n) => JSON.stringify('i'.repeat(n))),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
);

export interface Target {
  readonly methods: MethodMap;
}

/** Everything the generators of one map share. */
function context(methods: MethodMap): { names: string[]; v: ValueArbs; methodName: Arbitrary<string>; unknownName: Arbitrary<string> } {
  const names = Object.keys(methods);
  const keys = new Set<string>();
  for (const spec of Object.values(methods)) collectKeys(spec.params, keys);
  const allKeys = [...keys, 'serviceNodeId', 'slaves', 'password', 'user', 'nodes', 'extra'];
  const unknownName = fc.oneof(
    fc.constantFrom('launch_missiles', 'GET_STATUS', 'get_status ', ' get_status', 'get-status', 'getStatus', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__', 'list_nodes\u0000', 'ＧＥＴ', 'null', 'undefined'),
    fc.string({ maxLength: 30 }),
    fc.integer({ min: 101, max: 50_000 }).map((n) => 'm'.repeat(n)),
  );
  return { names, v: valueArbs(allKeys), methodName: fc.constantFrom(...names), unknownName };
}

/** A JSON body `{method, params, id, jsonrpc}` with hostile parts, POSTed (or sent with another verb). */
function jsonBodyRequest(methods: MethodMap): Arbitrary<HostileRequest> {
  const { names, v, methodName, unknownName } = context(methods);
  const methodJson = fc.oneof(
    { weight: 12, arbitrary: methodName.map((n) => ({ text: JSON.stringify(n), target: n as string | null })) },
    { weight: 2, arbitrary: unknownName.map((n) => ({ text: JSON.stringify(n), target: null })) },
    { weight: 2, arbitrary: v.value.map((t) => ({ text: t, target: null })) },
    { weight: 1, arbitrary: fc.constant({ text: undefined as string | undefined, target: null }) },
  );
  return fc
    .record({
      method: methodJson,
      // Params are generated for the method named, or for any method (often wrong for this one).
      paramsFor: sometimes(fc.constantFrom(...names), 3),
      seed: fc.integer({ min: 0, max: 1_000_000 }),
      id: rarely(idJson, 2),
      jsonrpc: rarely(fc.constantFrom('"2.0"', '"1.0"', '2', '2.0', 'null', '"2.0 "'), 3),
      extra: fc.array(fc.tuple(v.key, v.value), { maxLength: 2 }),
      duplicateMethod: rarely(methodName.map((n) => JSON.stringify(n)), 12),
      pad: padding,
      corruption: rarely(corruption, 5),
      wholeBody: rarely(fc.oneof(v.value, fc.constantFrom('', ' ', 'null', '[]', '"method"', '{', '{"method":', '{}{}')), 10),
      contentType: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...JSON_CONTENT_TYPES) }, { weight: 2, arbitrary: fc.constantFrom(...OTHER_CONTENT_TYPES) }, { weight: 1, arbitrary: fc.constant(null) }),
      verb: fc.oneof({ weight: 20, arbitrary: fc.constant('POST') }, { weight: 1, arbitrary: fc.constantFrom('PUT', 'PATCH', 'DELETE', 'OPTIONS') }),
      chunked: fc.boolean(),
    })
    .chain((r) => {
      const paramsMethod = r.paramsFor ?? r.method.target ?? names[r.seed % names.length]!;
      return paramsText(methods[paramsMethod]!, v).map((params) => ({ ...r, params }));
    })
    .map((r): HostileRequest => {
      const entries: Array<[string, string]> = [];
      if (r.method.text !== undefined) entries.push(['method', r.method.text]);
      if (r.params !== undefined) entries.push(['params', r.params]);
      if (r.id !== undefined) entries.push(['id', r.id]);
      if (r.jsonrpc !== undefined) entries.push(['jsonrpc', r.jsonrpc]);
      for (const [k, val] of r.extra) entries.push([k, val]);
      if (r.duplicateMethod !== undefined) entries.push(['method', r.duplicateMethod]);
      if (r.pad !== null) {
        const base = Buffer.byteLength(objectText(entries));
        entries.push(['pad', JSON.stringify('p'.repeat(Math.max(0, r.pad - base - 10)))]);
      }
      let body: Buffer = Buffer.from(r.wholeBody ?? objectText(entries));
      if (r.corruption) body = corrupt(body, r.corruption);
      const headers: Record<string, string> = r.contentType === null ? {} : { 'content-type': r.contentType };
      const tags: string[] = [];
      if (body.includes(Buffer.from([0xff])) || r.corruption?.kind === 'invalid-utf8') tags.push('invalid-utf8');
      if (r.contentType?.startsWith('multipart/form-data')) tags.push('multipart-malformed');
      if (body.length > BODY_LIMIT) tags.push('over-limit');
      if (r.verb !== 'POST') {
        const judged = judgeJsonBody(methods, body, r.contentType);
        return {
          kind: `json-body-${r.verb.toLowerCase()}`,
          verb: r.verb,
          path: '/',
          headers,
          body,
          chunked: r.chunked,
          target: r.method.target,
          expect: { codes: ['METHOD_NOT_FOUND', 'WRONG_VERB', 'PARSE_ERROR', 'TOO_LARGE'], maySucceed: false, framing: 'conpaas', method: null },
          tags: [...tags, 'other-verb', ...(judged.unsafe ? ['unsafe'] : [])],
        };
      }
      const judged = judgeJsonBody(methods, body, r.contentType);
      return {
        kind: r.wholeBody !== undefined ? 'json-whole-body' : r.corruption ? `json-${r.corruption.kind}` : r.pad !== null ? 'json-padded' : 'json-body',
        verb: 'POST',
        path: '/',
        headers,
        body,
        chunked: r.chunked,
        target: r.method.target,
        expect: judged.expect,
        tags: [...tags, ...(judged.unsafe ? ['unsafe'] : [])],
      };
    });
}

/** `GET /?method=…&params=…&id=…` with repeated, missing, malformed and oversized parts. */
function queryRequest(methods: MethodMap): Arbitrary<HostileRequest> {
  const { names, v, methodName, unknownName } = context(methods);
  return fc
    .record({
      method: fc.oneof({ weight: 10, arbitrary: methodName.map((n) => ({ value: n as string | undefined, target: n as string | null })) }, { weight: 2, arbitrary: unknownName.map((n) => ({ value: n as string | undefined, target: null })) }, { weight: 1, arbitrary: fc.constant({ value: undefined, target: null }) }),
      paramsFor: sometimes(fc.constantFrom(...names), 3),
      malformedParams: rarely(fc.constantFrom('{', '{nope', "{'a':1}", 'undefined', '', '%7B'), 8),
      secondMethod: rarely(methodName, 10),
      id: rarely(fc.oneof(fc.string({ maxLength: 20 }), fc.integer().map(String), fc.integer({ min: 65, max: 3000 }).map((n) => '9'.repeat(n))), 2),
      jsonrpc: rarely(fc.constantFrom('2.0', '1.0', '2'), 3),
      extra: fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), { maxLength: 2 }),
      junk: rarely(fc.constantFrom('&&', '&=', '&=x', '&a=%zz', '&%ff=1', '&b=%', '&c=%ff%fe'), 8),
      verb: fc.oneof({ weight: 12, arbitrary: fc.constant('GET' as const) }, { weight: 1, arbitrary: fc.constant('HEAD' as const) }),
      seed: fc.integer({ min: 0, max: 1_000_000 }),
    })
    .chain((r) => {
      const paramsMethod = r.paramsFor ?? r.method.target ?? names[r.seed % names.length]!;
      return paramsText(methods[paramsMethod]!, v).map((params) => ({ ...r, params }));
    })
    .map((r): HostileRequest => {
      const pairs: Array<[string, string]> = [];
      if (r.method.value !== undefined) pairs.push(['method', r.method.value]);
      const params = r.malformedParams ?? r.params;
      if (params !== undefined) pairs.push(['params', params]);
      if (r.secondMethod !== undefined) pairs.push(['method', r.secondMethod]);
      if (r.id !== undefined) pairs.push(['id', r.id]);
      if (r.jsonrpc !== undefined) pairs.push(['jsonrpc', r.jsonrpc]);
      // Extra keys that are not ones the server reads (a random key could be 'method').
      for (const [k, val] of r.extra) if (!['method', 'params', 'id', 'jsonrpc'].includes(k)) pairs.push([k, val]);
      const query = pairs.map(([k, val]) => `${encodeURIComponent(k)}=${encodeURIComponent(val)}`).join('&');
      const path = `/?${query}${r.junk ?? ''}`;
      // Over the header limit Node's own 431 answer carries a body, which an HTTP client reading
      // a HEAD answer takes for the next answer: that case is left to GET.
      const verb = r.verb === 'HEAD' && path.length > HEADER_LIMIT - 1024 ? 'GET' : r.verb;
      const judged = judgeQuery(methods, pairs, verb, path.length);
      const expect: Expectation = r.junk !== undefined ? { ...judged.expect, codes: null, maySucceed: judged.expect.maySucceed } : judged.expect;
      return {
        kind: verb === 'HEAD' ? 'head-query' : r.malformedParams !== undefined ? 'get-malformed-params' : path.length > HEADER_LIMIT ? 'get-oversized' : 'get-query',
        verb,
        path,
        headers: {},
        body: null,
        chunked: false,
        target: r.method.target,
        expect,
        tags: judged.unsafe ? ['unsafe'] : [],
      };
    });
}

/** multipart/form-data bodies: uploads cut short, in the wrong field, without a file, to JSON methods, over the form's limits. */
function multipartRequest(methods: MethodMap): Arbitrary<HostileRequest> {
  const { names, v, methodName, unknownName } = context(methods);
  const uploadNames = names.filter((n) => methods[n]!.verb === 'UPLOAD');
  const jsonNames = names.filter((n) => methods[n]!.verb !== 'UPLOAD');
  const allFileFields = [...new Set(uploadNames.flatMap((n) => methods[n]!.files ?? []))];
  const uploadName = uploadNames.length > 0 ? fc.constantFrom(...uploadNames) : methodName;
  const jsonName = fc.constantFrom(...jsonNames);
  const markerFile = fc.integer({ min: 0, max: 300_000 }).map((pad) => Buffer.concat([Buffer.from(MARKER_SQL), Buffer.from(`-- ${'p'.repeat(pad)}\n`)]));
  const wrongFileField = fc.oneof(fc.constantFrom('file', 'other', 'dump', 'MYSQLDUMP_FILE', 'mysqldump_file ', 'params', 'method'), fc.stringMatching(/^[a-z_]{1,12}$/)).filter((n) => !allFileFields.includes(n) && !(n in Object.prototype));
  const paramsValue = (n: string): Arbitrary<string> => paramsText(methods[n]!, v).map((p) => p ?? '{}');
  const idField = rarely(fc.oneof(fc.integer().map(String), fc.string({ maxLength: 20 })), 2);
  const boundary = fc.stringMatching(/^[A-Za-z0-9'()+_,-]{1,40}$/);
  const fieldsPart = (m: string | null, params: string | undefined, id: string | undefined): Part[] => [
    ...(m !== null ? [{ kind: 'field' as const, name: 'method', value: m }] : []),
    ...(params !== undefined ? [{ kind: 'field' as const, name: 'params', value: params }] : []),
    ...(id !== undefined ? [{ kind: 'field' as const, name: 'id', value: id }] : []),
  ];

  type Template = { name: string; parts: Part[]; cut: 'none' | 'in-file' | 'anywhere'; queryMethod: string | null; target: string | null };

  const templates: Arbitrary<Template> = fc.oneof(
    // An upload cut short inside its file (the one template that reaches an upload handler).
    fc.record({ m: uploadName, inQuery: fc.boolean(), id: idField, file: markerFile, field: fc.constant(allFileFields[0] ?? 'file') }).map((r) => ({
      name: 'multipart-truncated-upload',
      parts: [...fieldsPart(r.inQuery ? null : r.m, undefined, r.id), { kind: 'file' as const, name: r.field, content: r.file }],
      cut: 'in-file' as const,
      queryMethod: r.inQuery ? r.m : null,
      target: r.m,
    })),
    fc.record({ m: uploadName, id: idField, file: markerFile, field: wrongFileField }).map((r) => ({
      name: 'multipart-wrong-file-field',
      parts: [...fieldsPart(r.m, undefined, r.id), { kind: 'file' as const, name: r.field, content: r.file }],
      cut: 'none' as const,
      queryMethod: null,
      target: r.m,
    })),
    fc.record({ m: fc.oneof(uploadName, methodName), id: idField, cut: fc.constantFrom('none' as const, 'anywhere' as const) }).map((r) => ({
      name: 'multipart-no-file',
      parts: fieldsPart(r.m, undefined, r.id),
      cut: r.cut,
      queryMethod: null,
      target: r.m,
    })),
    fc.record({ m: uploadName, id: idField, file: markerFile, field: fc.constant(allFileFields[0] ?? 'file') }).chain((r) =>
      paramsValue(r.m).map((params) => ({
        name: 'multipart-upload-bad-params',
        parts: [...fieldsPart(r.m, params, r.id), { kind: 'file' as const, name: r.field, content: r.file }],
        cut: 'none' as const,
        queryMethod: null,
        target: r.m,
      })),
    ),
    fc.record({ m: jsonName, id: idField, file: markerFile, field: fc.oneof(fc.constant(allFileFields[0] ?? 'file'), wrongFileField), cut: fc.constantFrom('none' as const, 'anywhere' as const) }).chain((r) =>
      paramsValue(r.m).map((params) => ({
        name: 'multipart-to-json-method',
        parts: [...fieldsPart(r.m, params, r.id), { kind: 'file' as const, name: r.field, content: r.file }],
        cut: r.cut,
        queryMethod: null,
        target: r.m,
      })),
    ),
    // Over the form's limits: too many fields, too many parts.
    fc.record({ m: methodName, n: fc.integer({ min: MULTIPART_FIELDS + 1, max: MULTIPART_PARTS + 8 }) }).map((r) => ({
      name: 'multipart-over-limits',
      parts: [...fieldsPart(r.m, undefined, undefined), ...Array.from({ length: r.n }, (_, i) => ({ kind: 'field' as const, name: `f${i}`, value: 'x' }))],
      cut: 'none' as const,
      queryMethod: null,
      target: r.m,
    })),
    // Field names the form parser guards (they would shadow Object.prototype), a file among them.
    fc.record({ m: methodName, name: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'), asFile: fc.boolean() }).map((r) => ({
      name: 'multipart-prototype-field',
      parts: [...fieldsPart(r.m, '{"x":1}', undefined), r.asFile ? { kind: 'file' as const, name: r.name, content: Buffer.from('x') } : { kind: 'field' as const, name: r.name, value: 'x' }],
      cut: 'none' as const,
      queryMethod: null,
      target: r.m,
    })),
    // A params field typed as JSON that is not JSON, or a field over the size limit.
    fc.record({ m: jsonName, huge: fc.boolean() }).map((r) => ({
      name: 'multipart-bad-field',
      parts: [
        ...fieldsPart(r.m, undefined, undefined),
        r.huge ? { kind: 'field' as const, name: 'params', value: `{"x":"${'y'.repeat(MULTIPART_FIELD_SIZE + 10)}"}` } : { kind: 'field' as const, name: 'params', value: '{nope', contentType: 'application/json' },
        { kind: 'file' as const, name: allFileFields[0] ?? 'file', content: Buffer.from('x') },
      ],
      cut: 'none' as const,
      queryMethod: null,
      target: r.m,
    })),
    // A soup of fields with hostile values, an unknown method, no method.
    fc.record({ m: fc.oneof({ weight: 4, arbitrary: fc.oneof(methodName, unknownName) }, { weight: 1, arbitrary: fc.constant(null) }), extra: fc.array(fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.string({ maxLength: 30 })), { maxLength: 4 }) }).map((r) => ({
      name: 'multipart-soup',
      parts: [...fieldsPart(r.m, undefined, undefined), ...r.extra.filter(([k]) => !(k in Object.prototype)).map(([k, val]) => ({ kind: 'field' as const, name: k, value: val }))],
      cut: 'none' as const,
      queryMethod: null,
      target: r.m !== null && Object.hasOwn(methods, r.m) ? r.m : null,
    })),
  );

  return fc
    .record({
      t: templates,
      boundary,
      cutFraction: fc.double({ min: 0, max: 1, noNaN: true }),
      contentType: fc.oneof({ weight: 14, arbitrary: fc.constant('normal' as const) }, { weight: 1, arbitrary: fc.constantFrom('no-boundary' as const, 'empty-boundary' as const, 'other-boundary' as const, 'mixed' as const) }),
      lineEnd: fc.oneof({ weight: 14, arbitrary: fc.constant('\r\n' as const) }, { weight: 1, arbitrary: fc.constant('\n' as const) }),
      queryId: rarely(fc.integer({ min: 0, max: 1000 }), 4),
      chunked: fc.boolean(),
    })
    .map((r): HostileRequest => {
      const shape: MultipartShape = {
        parts: r.t.parts,
        boundary: r.boundary,
        cutAt: null,
        queryMethod: r.t.queryMethod,
        queryId: r.queryId === undefined ? null : String(r.queryId),
        contentType: r.contentType,
        lineEnd: r.lineEnd,
      };
      const complete = buildMultipart(shape);
      if (r.t.cut === 'in-file') {
        // Anywhere from the file's headers to just before its closing delimiter is complete.
        const i = r.t.parts.length - 1;
        const span = complete.spans[i]!;
        const from = span.headersEnd;
        const to = span.delimiterEnd - 1;
        shape.cutAt = from + Math.floor(r.cutFraction * (to - from));
      } else if (r.t.cut === 'anywhere') {
        shape.cutAt = Math.floor(r.cutFraction * complete.body.length);
      }
      const built = shape.cutAt === null ? complete : buildMultipart(shape);
      const judged = judgeMultipart(methods, shape, built);
      const q: string[] = [];
      if (shape.queryMethod !== null) q.push(`method=${encodeURIComponent(shape.queryMethod)}`);
      if (r.queryId !== undefined) q.push(`id=${r.queryId}`);
      return {
        kind: r.t.name,
        verb: 'POST',
        path: q.length > 0 ? `/?${q.join('&')}` : '/',
        headers: { 'content-type': multipartContentType(shape) },
        body: built.body,
        chunked: r.chunked,
        target: r.t.target,
        expect: judged.expect,
        tags: [...judged.tags, ...(judged.unsafe ? ['unsafe'] : []), ...(shape.cutAt !== null ? ['truncated'] : [])],
      };
    });
}

/** Paths other than `/`, with any verb. */
function pathRequest(methods: MethodMap): Arbitrary<HostileRequest> {
  const { methodName } = context(methods);
  const segment = fc.oneof(
    fc.constantFrom('x', 'index.html', '..', '%2e%2e', 'etc', 'passwd', 'api', 'rpc', 'metrics', 'health', 'primary', 'replica', '%00', '%zz', '%', '%ff', '~', 'a;b', 'a,b', '*'),
    fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/),
    methodName,
  );
  return fc
    .record({
      segments: fc.array(segment, { minLength: 1, maxLength: 4 }),
      trailingSlash: fc.boolean(),
      doubleSlash: fc.boolean(),
      long: rarely(fc.integer({ min: 100, max: 12_000 }), 6),
      query: rarely(methodName.map((m) => `?method=${m}&params=%7B%7D`), 2),
      verb: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
    })
    .map((r): HostileRequest => {
      let path = (r.doubleSlash ? '/' : '') + '/' + r.segments.join('/') + (r.trailingSlash ? '/' : '');
      if (r.long !== undefined) path += `/${'l'.repeat(r.long)}`;
      path += r.query ?? '';
      const body = r.verb === 'GET' ? null : Buffer.from('{"method":"get_service_info","params":{}}');
      return {
        kind: 'random-path',
        verb: r.verb,
        path,
        headers: body ? { 'content-type': 'application/json' } : {},
        body,
        chunked: false,
        target: null,
        expect: { codes: ['METHOD_NOT_FOUND', 'PARSE_ERROR'], maySucceed: false, framing: 'conpaas', method: null },
        tags: ['path'],
      };
    });
}

/** Random bytes under random content types. */
function garbageRequest(methods: MethodMap): Arbitrary<HostileRequest> {
  return fc
    .record({
      bytes: fc.uint8Array({ maxLength: 4096 }),
      contentType: fc.constantFrom(...JSON_CONTENT_TYPES, ...OTHER_CONTENT_TYPES, null),
      chunked: fc.boolean(),
    })
    .map((r): HostileRequest => {
      const body = Buffer.from(r.bytes);
      return {
        kind: 'garbage-body',
        verb: 'POST',
        path: '/',
        headers: r.contentType === null ? {} : { 'content-type': r.contentType },
        body,
        chunked: r.chunked,
        target: null,
        // Random bytes are almost never a JSON object: any refusal but INTERNAL will do.
        expect: { codes: null, maySucceed: false, framing: 'either', method: null },
        tags: ['garbage', ...(r.contentType?.startsWith('multipart/form-data') ? ['multipart-malformed'] : []), ...(judgeJsonBody(methods, body, 'application/json').unsafe ? ['unsafe'] : [])],
      };
    });
}

/**
 * Every kind of hostile request for one method map, never one that could change state.
 * Requests are drawn per method name from the map's own keys, so a method added to the map is
 * fuzzed without a change here.
 */
export function hostileRequests(methods: MethodMap): Arbitrary<HostileRequest> {
  return fc
    .oneof(
      { weight: 35, arbitrary: jsonBodyRequest(methods) },
      { weight: 25, arbitrary: queryRequest(methods) },
      { weight: 25, arbitrary: multipartRequest(methods) },
      { weight: 5, arbitrary: pathRequest(methods) },
      { weight: 5, arbitrary: garbageRequest(methods) },
    )
    .filter((r) => !r.tags.includes('unsafe'));
}

/** For a report: the request in a few hundred characters. */
export function describeRequest(r: HostileRequest): string {
  const body = r.body ? r.body.subarray(0, 300).toString('utf8').replace(/[^\x20-\x7e]/g, '·') : '';
  return `${r.kind} ${r.verb} ${r.path.slice(0, 200)}${r.path.length > 200 ? `…(${r.path.length} chars)` : ''} [${Object.entries(r.headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ')}] body(${r.body?.length ?? 0} bytes${r.chunked ? ', chunked' : ''}): ${body}${(r.body?.length ?? 0) > 300 ? '…' : ''}`;
}
