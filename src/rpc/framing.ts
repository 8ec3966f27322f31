import { jsonRpc2CodeFor } from '../protocol/envelope.js';
import { AppError, isAppError, type ErrorCode } from '../util/errors.js';

/** How a request asked to be answered: its id, and whether it spoke JSON-RPC 2.0. */
export interface Framing {
  /** The request's id, echoed back. */
  id: number | string | null;
  /** The request said `jsonrpc: 2.0`. */
  v2: boolean;
}

/** The first value of a query-string or form parameter given more than once. */
export function single(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

/** A JSON text given as a parameter (`params` in a query string or a form); PARSE_ERROR naming it otherwise. */
export function parseJson(text: unknown, what: string): unknown {
  if (typeof text !== 'string') throw new AppError('PARSE_ERROR', `'${what}' must be a JSON text`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AppError('PARSE_ERROR', `'${what}' is not valid JSON`);
  }
}

/** The request id, echoed back. Digits that came as text (query string, form field) become a
 * number, as ConPaaS clients send them; a JSON string stays a string. */
export function parseId(v: unknown, fromText = false): number | string | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const s = v.slice(0, 64);
    return fromText && /^-?[0-9]{1,15}$/.test(s) ? Number(s) : s;
  }
  return null;
}

/** A `__proto__` key, or a `constructor` key holding a `prototype`, at any depth (walked without
 * recursion: a deeply nested body must not exhaust the stack). Fastify's own parser refuses them. */
export function poisoned(v: unknown): boolean {
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

/** Errors of a malformed form (busboy's, the multipart plugin's limits) in our codes. */
export function multipartError(err: unknown): unknown {
  if (isAppError(err)) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (/^FST_(PARTS|FILES|FIELDS)_LIMIT$|^FST_REQ_FILE_TOO_LARGE$/.test(code)) return new AppError('TOO_LARGE', 'the form has too many parts, fields or files, or one too large');
  if (code.startsWith('FST_') || /part terminated|unexpected end of form|malformed|boundary|multipart/i.test(String(e.message ?? ''))) {
    return new AppError('PARSE_ERROR', 'malformed multipart/form-data body');
  }
  return err;
}

/** Any error as an AppError: one that is not becomes INTERNAL (its message is never sent). */
export function toAppError(err: unknown): AppError {
  if (isAppError(err)) return err;
  return new AppError('INTERNAL', 'internal error', { cause: err });
}

/** An error fastify raised before a route ran (size, content type, body), in our codes. */
export function frameworkError(err: { code?: string; statusCode?: number; message: string }): AppError {
  const code = err.code ?? '';
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) return new AppError('TOO_LARGE', 'the request body is over the size limit');
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.statusCode === 415) {
    return new AppError('PARSE_ERROR', 'unsupported content type: send application/json or multipart/form-data');
  }
  if (code.startsWith('FST_ERR_CTP') || code === 'FST_INVALID_MULTIPART_CONTENT_TYPE' || err.statusCode === 400) {
    return new AppError('PARSE_ERROR', 'malformed request body: it must be a JSON object {"method", "params", "id"}');
  }
  return new AppError('INTERNAL', 'internal error', { cause: err });
}

/** Results whose JSON text was made once, for every answer that carries them (withJson). */
const serialized = new WeakMap<object, string>();

/**
 * Marks `value` as serialized to `json` (which must be `JSON.stringify(value)`, and `value` must
 * not change after): an answer carrying it is written from the text, not serialized again.
 * Returns `value`.
 */
export function withJson<T extends object>(value: T, json: string): T {
  serialized.set(value, json);
  return value;
}

/**
 * The envelope of a result (ConPaaS's, or JSON-RPC 2.0's): an object to serialize, or, for a
 * result marked by withJson, the envelope's JSON text around the result's text (the same bytes
 * as serializing the object).
 */
export function okBody(framing: Framing, result: unknown): unknown {
  const text = typeof result === 'object' && result !== null ? serialized.get(result) : undefined;
  if (text !== undefined) {
    const id = JSON.stringify(framing.id);
    return framing.v2 ? `{"jsonrpc":"2.0","id":${id},"result":${text}}` : `{"result":${text},"error":null,"id":${id}}`;
  }
  if (framing.v2) return { jsonrpc: '2.0', id: framing.id, result };
  return { result, error: null, id: framing.id };
}

/** The envelope of an error (ConPaaS's, or JSON-RPC 2.0's), with its stable code. */
export function errorBody(framing: Framing, e: AppError): unknown {
  const code: ErrorCode = e.code;
  if (framing.v2) {
    return {
      jsonrpc: '2.0',
      id: framing.id,
      error: { code: jsonRpc2CodeFor(code), message: e.message, data: { code, ...(e.details ? { details: e.details } : {}) } },
    };
  }
  return { result: null, error: e.message, id: framing.id, code, ...(e.details ? { details: e.details } : {}) };
}
