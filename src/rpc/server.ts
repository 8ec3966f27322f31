import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import type { Readable } from 'node:stream';
import type { MethodMap, ParsedParamsOf, ResultOf } from '../protocol/method.js';
import { httpStatusFor } from '../protocol/envelope.js';
import { AppError, isAppError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { installJsonBody } from './body.js';
import { errorBody, frameworkError, okBody, parseId, parseJson, single, toAppError, type Framing } from './framing.js';
import { parseParams } from './params.js';
import { RefusalLog } from './refusal-log.js';
import { peerOf, peerSubjectOf, sendStream, type StreamResult } from './streams.js';
import { uploadHandler } from './uploads.js';

export { streamResult, type StreamResult } from './streams.js';

/** What a handler knows of the call besides its params. */
export interface CallContext {
  /** The uploaded file of an UPLOAD method, to be read once by the handler. */
  readonly file: Readable | null;
  /** The caller's address. */
  readonly remoteAddress: string;
  /** The common name of the caller's verified TLS client certificate, if any. */
  readonly peer: string | null;
}

/** One handler per method of the map: checked params and the call's context in, the method's result (or a stream) out; errors thrown as AppError. */
export type Handlers<M extends MethodMap> = {
  [K in keyof M]: (
    params: ParsedParamsOf<M[K]>,
    ctx: CallContext,
  ) => Promise<M[K]['result'] extends 'stream' ? StreamResult : ResultOf<M[K]>>;
};

/** HTTPS for a server (PEM texts). */
export interface ServerTls {
  /** The server's private key. */
  key: string;
  /** The server's certificate. */
  cert: string;
  /** CA whose certificates clients must present (mutual TLS); without it, no client certificate is asked. */
  clientCa?: string;
  /** With `clientCa`: a client may present a certificate of that CA, or none (it then authenticates otherwise). */
  clientCertOptional?: boolean;
}

/** How a server is set up: logging, TLS, who may call, limits. */
export interface RpcServerOptions {
  /** Where failed calls are logged (once each). */
  logger: Logger;
  /** Serve HTTPS with this key and certificate. */
  tls?: ServerTls;
  /**
   * Checked on every request, before its body is read: false answers 401. Receives the
   * request headers, the verified client certificate's common name and its whole subject (null
   * without a verified certificate), and the HTTP method (`GET`, `POST`…).
   */
  authenticate?: (headers: Record<string, string | string[] | undefined>, peer: string | null, subject: Readonly<Record<string, string>> | null, httpMethod: string) => boolean;
  /** Paths (without the query) served before authentication, by routes the caller adds and that check their own credential (the web console's files and login). */
  publicPath?: (path: string) => boolean;
  /** Where a browser asking for `/` (GET, no query, HTML accepted) is sent (303), before authentication: the web console. */
  browserHome?: string;
  /** Checked before a method runs; throws FORBIDDEN (403) to refuse this caller this method. */
  authorize?: (method: string, peer: string | null) => void;
  /** Largest JSON body, in bytes. */
  bodyLimit?: number;
  /** A JSON body must arrive within this many ms of its headers, on every route that takes one (default 30 s). */
  bodyTimeoutMs?: number;
  /** Largest uploaded file, in bytes. */
  fileLimit?: number;
  /** Uploads streamed at once; more are refused with BUSY. */
  maxConcurrentUploads?: number;
  /** Connections held at once; more are closed at once until one ends. */
  maxConnections?: number;
  /**
   * Paths served besides `/`, before authentication (their handler checks its own credential,
   * e.g. a host's join token): `POST <path>` with a JSON body, answered `{result, error, id: null}`.
   */
  openRoutes?: Record<string, (body: unknown, ctx: { remoteAddress: string }) => Promise<unknown>>;
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
            ...(options.tls.clientCa ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: options.tls.clientCertOptional !== true } : {}),
            minVersion: 'TLSv1.2' as const,
          },
        }
      : {}),
  });
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  app.server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (options.authenticate) {
    const authenticate = options.authenticate;
    const refusals = new RefusalLog(log);
    const open = new Set(Object.keys(options.openRoutes ?? {}));
    // A callback hook, not an async one: it runs on every request, and a promise per call costs.
    app.addHook('onRequest', (req, reply, done) => {
      // The path without its query; indexOf, not split: this runs on every request.
      const q = req.url.indexOf('?');
      const path = q < 0 ? req.url : req.url.slice(0, q);
      if (open.has(path) || options.publicPath?.(path)) {
        done();
        return;
      }
      if (options.browserHome && req.method === 'GET' && req.url === '/' && String(req.headers['accept'] ?? '').includes('text/html')) {
        void reply.code(303).header('location', options.browserHome).send();
        return;
      }
      if (!authenticate(req.headers, peerOf(req), peerSubjectOf(req), req.method)) {
        refusals.refused({ code: 'UNAUTHORIZED', url: req.url.slice(0, 64) });
        // The body of a caller without credentials is never read: the connection closes with the answer.
        void reply
          .code(401)
          .header('connection', 'close')
          .type('application/json')
          .send(errorBody({ id: null, v2: false }, new AppError('UNAUTHORIZED', 'unauthorized: a valid API token is required (Authorization: Bearer …)')));
        reply.raw.once('finish', () => req.raw.socket.destroy());
        return;
      }
      done();
    });
  }
  installJsonBody(app, options.bodyTimeoutMs ?? BODY_TIMEOUT_MS);

  // Errors raised before a route runs: body parsing, size limits, content types.
  app.setErrorHandler((err: { code?: string; statusCode?: number; message: string }, _req, reply) => {
    const e = isAppError(err) ? err : frameworkError(err);
    log.warn({ code: e.code, reason: e.message }, 'request refused');
    void reply.code(httpStatusFor(e.code)).type('application/json').send(errorBody({ id: null, v2: false }, e));
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

  for (const [path, handler] of Object.entries(options.openRoutes ?? {})) {
    app.post(path, async (req, reply) => {
      const framing: Framing = { id: null, v2: false };
      try {
        const result = await handler(req.body, { remoteAddress: req.ip });
        void reply.code(200).type('application/json').send(okBody(framing, result));
      } catch (err) {
        fail(reply, framing, err, path);
      }
    });
  }

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

  // Uploads are parsed in the POST route's own context only: the multipart plugin's hooks (one
  // runs after every response) stay off the GET route, which carries the reads.
  await app.register(async (posts) => {
    await posts.register(multipart, {
      limits: { fileSize: options.fileLimit ?? DEFAULT_FILE_LIMIT, files: 1, fields: 8, fieldSize: 64 * 1024, parts: 16 },
    });
    // Multipart: fields first (`method`, optional `id`), then the file, streamed to the handler.
    const handleUpload = uploadHandler({ methods, dispatch, fail, ctxOf, maxUploads: options.maxConcurrentUploads ?? DEFAULT_MAX_UPLOADS });
    posts.post('/', async (req, reply) => {
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
  });

  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .type('application/json')
      .send(errorBody({ id: null, v2: false }, new AppError('METHOD_NOT_FOUND', `no such path: ${req.method} ${req.url.slice(0, 100)}`)));
  });

  return app;
}

