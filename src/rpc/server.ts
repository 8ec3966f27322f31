import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { PassThrough, type Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { pipeline } from 'node:stream/promises';
import type { MethodMap, ParsedParamsOf, ResultOf } from '../protocol/method.js';
import { httpStatusFor, jsonRpc2CodeFor } from '../protocol/envelope.js';
import { AppError, isAppError, type ErrorCode } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { parseParams } from './params.js';
import { RefusalLog } from './refusal-log.js';

/** A method's answer when it is a byte stream rather than JSON. */
export interface StreamResult {
  readonly kind: 'stream';
  readonly stream: Readable;
  readonly contentType?: string;
  readonly filename?: string;
}

export function streamResult(stream: Readable, options?: { contentType?: string; filename?: string }): StreamResult {
  return { kind: 'stream', stream, ...options };
}

export interface CallContext {
  /** The uploaded file of an UPLOAD method, to be read once by the handler. */
  readonly file: Readable | null;
  readonly remoteAddress: string;
  /** The common name of the caller's verified TLS client certificate, if any. */
  readonly peer: string | null;
}

export type Handlers<M extends MethodMap> = {
  [K in keyof M]: (
    params: ParsedParamsOf<M[K]>,
    ctx: CallContext,
  ) => Promise<M[K]['result'] extends 'stream' ? StreamResult : ResultOf<M[K]>>;
};

export interface ServerTls {
  key: string;
  cert: string;
  /** CA whose certificates clients must present (mutual TLS); without it, no client certificate is asked. */
  clientCa?: string;
}

export interface RpcServerOptions {
  logger: Logger;
  /** Serve HTTPS with this key and certificate. */
  tls?: ServerTls;
  /**
   * Checked on every request, before its body is read: false answers 401. Receives the
   * request headers and the verified client certificate's common name.
   */
  authenticate?: (headers: Record<string, string | string[] | undefined>, peer: string | null) => boolean;
  /** Checked before a method runs; throws FORBIDDEN (403) to refuse this caller this method. */
  authorize?: (method: string, peer: string | null) => void;
  /** Largest JSON body, in bytes. */
  bodyLimit?: number;
  /** Largest uploaded file, in bytes. */
  fileLimit?: number;
  /** Uploads streamed at once; more are refused with BUSY. */
  maxConcurrentUploads?: number;
  /** Connections held at once; more are closed at once until one ends. */
  maxConnections?: number;
}

interface Framing {
  id: number | string | null;
  v2: boolean;
}

const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** A client has this long to send its request headers. */
const HEADERS_TIMEOUT_MS = 10_000;
/** A connection silent this long (no byte either way) is closed; long calls such as provision_from answer within it. */
const IDLE_TIMEOUT_MS = 10 * 60_000;
/** The whole request, an uploaded dump included, must arrive within this time. */
const REQUEST_TIMEOUT_MS = 30 * 60_000;
const DEFAULT_MAX_UPLOADS = 4;
/** A JSON body must arrive within this time once its headers are in. */
const BODY_TIMEOUT_MS = 30_000;
const DEFAULT_FILE_LIMIT = 64 * 1024 * 1024 * 1024;
const DEFAULT_MAX_CONNECTIONS = 512;

/**
 * The JSON-RPC transport shared by the manager and the agents (DESIGN §2): one route that
 * dispatches from a table of methods, validates params against each method's schema, and
 * answers in the ConPaaS envelope (or JSON-RPC 2.0 when asked).
 */
export async function createRpcServer<M extends MethodMap>(
  methods: M,
  handlers: Handlers<M>,
  options: RpcServerOptions,
): Promise<FastifyInstance> {
  const log = options.logger;
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    keepAliveTimeout: 5000,
    // Slow or stalled clients cannot hold connections forever.
    connectionTimeout: IDLE_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // A URL fastify cannot decode still gets the envelope.
    frameworkErrors: (_err, _req, reply) => {
      const raw = reply as unknown as FastifyReply;
      void raw.code(400).type('application/json').send(errorBody({ id: null, v2: false }, new AppError('PARSE_ERROR', 'malformed request URL')));
    },
    // Errors before a request exists (headers over 16 KiB, broken HTTP): an envelope, then close.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return;
      const tooLarge = (err as NodeJS.ErrnoException).code === 'HPE_HEADER_OVERFLOW';
      const e = tooLarge ? new AppError('TOO_LARGE', 'the request line and headers are over the size limit') : new AppError('PARSE_ERROR', 'malformed HTTP request');
      const body = JSON.stringify(errorBody({ id: null, v2: false }, e));
      socket.end(`HTTP/1.1 ${tooLarge ? '413 Payload Too Large' : '400 Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
    ...(options.tls
      ? {
          https: {
            key: options.tls.key,
            cert: options.tls.cert,
            ...(options.tls.clientCa ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
            minVersion: 'TLSv1.2' as const,
          },
        }
      : {}),
  });
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  app.server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  let uploads = 0;
  const maxUploads = options.maxConcurrentUploads ?? DEFAULT_MAX_UPLOADS;
  if (options.authenticate) {
    const authenticate = options.authenticate;
    const refusals = new RefusalLog(log);
    app.addHook('onRequest', async (req, reply) => {
      if (!authenticate(req.headers, peerOf(req))) {
        refusals.refused({ code: 'UNAUTHORIZED', url: req.url.slice(0, 64) });
        // The body of a caller without credentials is never read: the connection closes with the answer.
        await reply
          .code(401)
          .header('connection', 'close')
          .type('application/json')
          .send(errorBody({ id: null, v2: false }, new AppError('UNAUTHORIZED', 'unauthorized: a valid API token is required (Authorization: Bearer …)')));
        reply.raw.once('finish', () => req.raw.socket.destroy());
      }
    });
  }
  // Only JSON and multipart bodies are taken; anything else is refused as an unsupported type.
  app.removeContentTypeParser('text/plain');
  // JSON must be valid UTF-8: a byte that is not would otherwise become U+FFFD, and a password
  // set from it would not be the one sent.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    let text: string;
    try {
      // A leading byte-order mark is dropped, as fastify's own parser does.
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body as Buffer);
    } catch {
      done(new AppError('PARSE_ERROR', 'the body is not valid UTF-8'), undefined);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      done(new AppError('PARSE_ERROR', 'malformed request body: it must be a JSON object {"method", "params", "id"}'), undefined);
      return;
    }
    if ((text.includes('__proto__') || text.includes('constructor')) && poisoned(value)) {
      done(new AppError('PARSE_ERROR', 'malformed request body: __proto__ and constructor.prototype keys are refused'), undefined);
      return;
    }
    done(null, value);
  });
  // A JSON body that trickles in is cut off; uploads keep the long request timeout.
  app.addHook('preParsing', async (req, _reply, payload) => {
    if (req.isMultipart()) return payload;
    const timer = setTimeout(() => req.raw.destroy(), BODY_TIMEOUT_MS);
    const clear = (): void => clearTimeout(timer);
    payload.once('end', clear);
    payload.once('close', clear);
    payload.once('error', clear);
    return payload;
  });
  await app.register(multipart, {
    limits: { fileSize: options.fileLimit ?? DEFAULT_FILE_LIMIT, files: 1, fields: 8, fieldSize: 64 * 1024, parts: 16 },
  });

  const fail = (reply: FastifyReply, framing: Framing, err: unknown, method: string | null): void => {
    const e = toAppError(err);
    if (e.code === 'INTERNAL') log.error({ err, method }, 'internal error');
    else log.warn({ code: e.code, method, reason: e.message }, 'call failed');
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.destroy();
      return;
    }
    void reply.code(httpStatusFor(e.code)).type('application/json').send(errorBody(framing, e));
  };

  const dispatch = async (
    reply: FastifyReply,
    framing: Framing,
    name: unknown,
    rawParams: unknown,
    httpVerb: 'GET' | 'POST' | 'UPLOAD',
    ctx: CallContext,
  ): Promise<void> => {
    if (name === undefined || name === null || name === '') throw new AppError('NO_METHOD', 'no method given');
    if (typeof name !== 'string') throw new AppError('NO_METHOD', "'method' must be a string");
    if (!Object.hasOwn(methods, name)) throw new AppError('METHOD_NOT_FOUND', `method not found: ${name.slice(0, 100)}`);
    options.authorize?.(name, ctx.peer);
    const spec = methods[name]!;
    if (spec.verb === 'UPLOAD' && httpVerb !== 'UPLOAD') {
      throw new AppError('WRONG_VERB', `${name} takes a multipart/form-data upload`);
    }
    if (spec.verb === 'POST' && httpVerb !== 'POST') {
      throw new AppError('WRONG_VERB', `${name} changes state: call it with POST`);
    }
    if (spec.verb !== 'UPLOAD' && httpVerb === 'UPLOAD') {
      throw new AppError('WRONG_VERB', `${name} takes no upload: send JSON`);
    }
    const params = parseParams(name, spec.params, rawParams);
    const handler = handlers[name as keyof M] as (p: unknown, c: CallContext) => Promise<unknown>;
    const result = await handler(params, ctx);
    if (spec.result === 'stream') {
      await sendStream(reply, result as StreamResult);
      return;
    }
    void reply.code(200).type('application/json').send(okBody(framing, result));
  };

  const ctxOf = (req: FastifyRequest, file: Readable | null): CallContext => ({
    file,
    remoteAddress: req.ip,
    peer: peerOf(req),
  });

  app.get('/', async (req, reply) => {
    const q = (req.query ?? {}) as Record<string, unknown>;
    const framing: Framing = { id: parseId(single(q['id']), true), v2: single(q['jsonrpc']) === '2.0' };
    let method: string | null = null;
    try {
      const m = single(q['method']);
      method = typeof m === 'string' ? m : null;
      const rawParams = q['params'] === undefined ? {} : parseJson(single(q['params']), 'params');
      await dispatch(reply, framing, m, rawParams, 'GET', ctxOf(req, null));
    } catch (err) {
      fail(reply, framing, err, method);
    }
    return reply;
  });

  app.post('/', async (req, reply) => {
    if (req.isMultipart()) {
      await handleUpload(req, reply);
      return reply;
    }
    const body = req.body;
    const framing: Framing = { id: null, v2: false };
    let method: string | null = null;
    try {
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new AppError('PARSE_ERROR', 'the body must be a JSON object {"method", "params", "id"}');
      }
      const b = body as Record<string, unknown>;
      framing.id = parseId(b['id']);
      framing.v2 = b['jsonrpc'] === '2.0';
      method = typeof b['method'] === 'string' ? b['method'] : null;
      await dispatch(reply, framing, b['method'], b['params'], 'POST', ctxOf(req, null));
    } catch (err) {
      fail(reply, framing, err, method);
    }
    return reply;
  });

  /** Multipart: fields first (`method`, optional `id`), then the file, streamed to the handler. */
  const handleUpload = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const q = (req.query ?? {}) as Record<string, unknown>;
    // A Map: a field named like an Object.prototype member is just a name here.
    const fields = new Map<string, string>();
    const framing: Framing = { id: parseId(single(q['id']), true), v2: false };
    let method: string | null = typeof single(q['method']) === 'string' ? (single(q['method']) as string) : null;
    const readFields = (): void => {
      method = fields.get('method') ?? method;
      if (fields.has('id')) framing.id = parseId(fields.get('id'), true);
    };
    let handled = false;
    try {
      for await (const part of req.parts()) {
        if (part.type === 'field') {
          if (typeof part.value === 'string') fields.set(part.fieldname, part.value);
          continue;
        }
        readFields();
        // Wrapped at once, so a failure of the upload always has somewhere to go.
        const file = limitedFile(part.file);
        try {
          if (handled) throw new AppError('INVALID_PARAMS', 'only one file may be uploaded');
          const spec = method !== null && Object.hasOwn(methods, method) ? methods[method] : undefined;
          if (spec?.files && !spec.files.includes(part.fieldname)) {
            throw new AppError('INVALID_PARAMS', `${method}: unexpected file field '${part.fieldname.slice(0, 64)}' (expected ${spec.files.join(', ')})`);
          }
          const rawParams = fields.has('params') ? parseJson(fields.get('params'), 'params') : {};
          handled = true;
          if (uploads >= maxUploads) throw new AppError('BUSY', `too many uploads at once (${maxUploads}): try again when one has finished`);
          uploads++;
          try {
            await dispatch(reply, framing, method, rawParams, 'UPLOAD', ctxOf(req, file));
          } finally {
            uploads--;
          }
        } finally {
          // Whatever the handler did not read is drained, so the form can end.
          if (!file.readableEnded) file.destroy();
          part.file.resume();
        }
      }
      readFields();
      if (!handled) {
        if (method !== null && Object.hasOwn(methods, method) && methods[method]!.verb === 'UPLOAD') {
          throw new AppError('INVALID_PARAMS', `${method}: missing file field '${methods[method]!.files?.[0] ?? 'file'}'`);
        }
        await dispatch(reply, framing, method, {}, 'UPLOAD', ctxOf(req, null));
      }
    } catch (err) {
      fail(reply, framing, multipartError(err), method);
    }
  };

  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .type('application/json')
      .send(errorBody({ id: null, v2: false }, new AppError('METHOD_NOT_FOUND', `no such path: ${req.method} ${req.url.slice(0, 100)}`)));
  });

  // Errors raised before a route runs: body parsing, size limits, content types.
  app.setErrorHandler((err: { code?: string; statusCode?: number; message: string }, _req, reply) => {
    const e = isAppError(err) ? err : frameworkError(err);
    log.warn({ code: e.code, reason: e.message }, 'request refused');
    void reply.code(httpStatusFor(e.code)).type('application/json').send(errorBody({ id: null, v2: false }, e));
  });

  return app;
}

/** The common name of a verified client certificate, or null. */
function peerOf(req: FastifyRequest): string | null {
  const socket = req.raw.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return null;
  const cn = socket.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' ? cn : null;
}

/** The uploaded file as the handler reads it: a file over the size limit fails the stream
 * (busboy would only cut it short and set a flag, which a handler might not check). */
function limitedFile(file: Readable): Readable {
  const out = new PassThrough();
  // The reader (if any) sees errors through its own iteration or pipeline; this keeps an
  // unread, failed upload from becoming an uncaught 'error' event that ends the process.
  out.on('error', () => undefined);
  file.on('limit', () => out.destroy(new AppError('TOO_LARGE', 'the uploaded file is over the size limit')));
  file.on('error', (err) => out.destroy(err));
  file.pipe(out);
  return out;
}

async function sendStream(reply: FastifyReply, result: StreamResult): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.statusCode = 200;
  res.setHeader('Content-Type', result.contentType ?? 'application/octet-stream');
  if (result.filename) res.setHeader('Content-Disposition', `attachment; filename="${result.filename}"`);
  try {
    await pipeline(result.stream, res);
  } catch (err) {
    // Headers are gone: the only honest signal left is to cut the connection, so the
    // receiver sees a truncated (unterminated) chunked body instead of a clean end.
    res.destroy();
    throw err;
  }
}

function single(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

function parseJson(text: unknown, what: string): unknown {
  if (typeof text !== 'string') throw new AppError('PARSE_ERROR', `'${what}' must be a JSON text`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AppError('PARSE_ERROR', `'${what}' is not valid JSON`);
  }
}

/** The request id, echoed back. Digits that came as text (query string, form field) become a
 * number, as ConPaaS clients send them; a JSON string stays a string. */
function parseId(v: unknown, fromText = false): number | string | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const s = v.slice(0, 64);
    return fromText && /^-?[0-9]{1,15}$/.test(s) ? Number(s) : s;
  }
  return null;
}

/** A `__proto__` key, or a `constructor` key holding a `prototype`, at any depth (walked without
 * recursion: a deeply nested body must not exhaust the stack). Fastify's own parser refuses them. */
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

/** Errors of a malformed form (busboy's, the multipart plugin's limits) in our codes. */
function multipartError(err: unknown): unknown {
  if (isAppError(err)) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (/^FST_(PARTS|FILES|FIELDS)_LIMIT$|^FST_REQ_FILE_TOO_LARGE$/.test(code)) return new AppError('TOO_LARGE', 'the form has too many parts, fields or files, or one too large');
  if (code.startsWith('FST_') || /part terminated|unexpected end of form|malformed|boundary|multipart/i.test(String(e.message ?? ''))) {
    return new AppError('PARSE_ERROR', 'malformed multipart/form-data body');
  }
  return err;
}

function toAppError(err: unknown): AppError {
  if (isAppError(err)) return err;
  return new AppError('INTERNAL', 'internal error', { cause: err });
}

function frameworkError(err: { code?: string; statusCode?: number; message: string }): AppError {
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

function okBody(framing: Framing, result: unknown): unknown {
  if (framing.v2) return { jsonrpc: '2.0', id: framing.id, result };
  return { result, error: null, id: framing.id };
}

function errorBody(framing: Framing, e: AppError): unknown {
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
