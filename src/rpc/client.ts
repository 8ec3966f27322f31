import { Readable } from 'node:stream';
import { Agent, fetch, request, type Dispatcher, type RequestInit, type Response } from 'undici';
import { randomBytes } from 'node:crypto';
import type { MethodMap, ParamsOf, ResultOf } from '../protocol/method.js';
import { AppError, ERROR_CODES, type ErrorCode } from '../util/errors.js';

/** TLS material of a client (PEM texts). */
export interface ClientTls {
  /** The CA the server's certificate must chain to. */
  ca: string;
  /** A client certificate and key, for servers that ask for one (mutual TLS). */
  cert?: string;
  /** The client certificate's key. */
  key?: string;
}

/** Where a client calls and how. */
export interface RpcClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:8001/` or `https://…`. */
  url: string;
  /** Milliseconds before a JSON call is abandoned. */
  timeoutMs?: number;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** HTTPS: the CA to trust, and a client certificate for mutual TLS. */
  tls?: ClientTls;
}

/** Raised for an error the remote side answered with; carries its stable code. */
export class RemoteError extends AppError {
  readonly remoteCode: ErrorCode;
  constructor(method: string, code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details ? { details: { ...details, method } } : { details: { method } });
    this.name = 'RemoteError';
    this.remoteCode = code;
  }
}

let nextId = 1;

/** A streamed answer must start within a minute, and never pause for ten. */
const STREAM_HEADERS_TIMEOUT_MS = 60_000;
const STREAM_BODY_TIMEOUT_MS = 10 * 60_000;

/** A typed client for any method map: the same contract the server dispatches from. */
export class RpcClient<M extends MethodMap> {
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly dispatcher: Agent | undefined;

  constructor(
    private readonly methods: M,
    options: RpcClientOptions,
  ) {
    this.url = options.url.endsWith('/') ? options.url : `${options.url}/`;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.headers = options.token ? { authorization: `Bearer ${options.token}` } : {};
    this.dispatcher = options.tls
      ? new Agent({ connect: { ca: options.tls.ca, ...(options.tls.cert ? { cert: options.tls.cert, key: options.tls.key } : {}) } })
      : undefined;
  }

  /** Calls a JSON method with the verb its spec names. */
  async call<K extends keyof M & string>(name: K, params: ParamsOf<M[K]>, options?: { timeoutMs?: number }): Promise<ResultOf<M[K]>> {
    const res = await this.send(name, params, options?.timeoutMs ?? this.timeoutMs);
    return (await readEnvelope(name, res)) as ResultOf<M[K]>;
  }

  /**
   * Calls a method that answers with a byte stream; errors before the first byte are thrown.
   * The body comes as a Node stream straight from the socket (undici's `request`, not `fetch`:
   * no web-stream conversion on the path of a snapshot).
   */
  async stream<K extends keyof M & string>(name: K, params: ParamsOf<M[K]>): Promise<Readable> {
    const q = new URLSearchParams({ method: name, params: JSON.stringify(params ?? {}), id: String(nextId++) });
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${this.url}?${q.toString()}`, {
        method: 'GET',
        headers: this.headers,
        headersTimeout: STREAM_HEADERS_TIMEOUT_MS,
        bodyTimeout: STREAM_BODY_TIMEOUT_MS,
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
    } catch (err) {
      throw new AppError('PEER_FAILED', `${name}: cannot reach ${this.url}`, { cause: err });
    }
    const type = String(res.headers['content-type'] ?? '');
    if (type.startsWith('application/json')) {
      let body: unknown;
      try {
        body = await res.body.json();
      } catch (err) {
        throw new AppError('PEER_FAILED', `${name}: the answer (HTTP ${res.statusCode}) is not JSON`, { cause: err });
      }
      envelopeResult(name, res.statusCode, body);
      throw new AppError('PEER_FAILED', `${name}: expected a stream, got a JSON answer`);
    }
    return res.body;
  }

  /** Uploads one file, streamed from `file`, as multipart/form-data (with `params` as a JSON field before it). */
  async upload<K extends keyof M & string>(name: K, field: string, file: Readable, options?: { timeoutMs?: number; params?: ParamsOf<M[K]> }): Promise<ResultOf<M[K]>> {
    const boundary = `----cps-mysql-${randomBytes(12).toString('hex')}`;
    // A failure of the file being sent is the caller's upload failing, not the server: remembered
    // so it is reported as such rather than as an unreachable peer.
    let sourceError: unknown = null;
    file.once('error', (e) => (sourceError ??= e));
    const fields: Record<string, string> = { method: name, id: String(nextId++), ...(options?.params !== undefined ? { params: JSON.stringify(options.params) } : {}) };
    const body = Readable.from(multipartBody(boundary, fields, field, file));
    let res: Response;
    try {
      res = await this.fetch(
        {
          method: 'POST',
          headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
          body: Readable.toWeb(body) as unknown as RequestInit['body'],
          duplex: 'half',
        },
        this.url,
        name,
        options?.timeoutMs ?? 0,
      );
    } catch (err) {
      if (sourceError !== null) {
        if (sourceError instanceof AppError) throw sourceError;
        throw new AppError('INVALID_PARAMS', `${name}: the upload did not complete`, { cause: sourceError });
      }
      throw err;
    }
    return (await readEnvelope(name, res)) as ResultOf<M[K]>;
  }

  private async send(name: string, params: unknown, timeoutMs: number): Promise<Response> {
    const spec = this.methods[name];
    if (!spec) throw new AppError('METHOD_NOT_FOUND', `method not found: ${name}`);
    const id = nextId++;
    if (spec.verb === 'GET') {
      const q = new URLSearchParams({ method: name, params: JSON.stringify(params ?? {}), id: String(id) });
      return this.fetch({ method: 'GET' }, `${this.url}?${q.toString()}`, name, timeoutMs);
    }
    return this.fetch(
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ method: name, params: params ?? {}, id }) },
      this.url,
      name,
      timeoutMs,
    );
  }

  private async fetch(init: RequestInit & { duplex?: 'half' }, url: string, name: string, timeoutMs: number): Promise<Response> {
    const full: RequestInit = {
      ...init,
      headers: { ...this.headers, ...((init.headers as Record<string, string> | undefined) ?? {}) },
      ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      ...(timeoutMs > 0 ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
    };
    try {
      return await fetch(url, full);
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new AppError(timedOut ? 'TIMEOUT' : 'PEER_FAILED', `${name}: ${timedOut ? 'no answer in time from' : 'cannot reach'} ${this.url}`, { cause: err });
    }
  }
}

async function readEnvelope(name: string, res: Response): Promise<unknown> {
  let body: unknown;
  try {
    body = await res.json();
  } catch (err) {
    throw new AppError('PEER_FAILED', `${name}: the answer (HTTP ${res.status}) is not JSON`, { cause: err });
  }
  return envelopeResult(name, res.status, body);
}

/** The result of an answer in the envelope, or its error raised with the remote code. */
function envelopeResult(name: string, status: number, body: unknown): unknown {
  const env = body as { result?: unknown; error?: unknown; code?: unknown; details?: unknown };
  if (env.error !== null && env.error !== undefined) {
    const code = typeof env.code === 'string' && (ERROR_CODES as readonly string[]).includes(env.code) ? (env.code as ErrorCode) : 'PEER_FAILED';
    const details = typeof env.details === 'object' && env.details !== null ? (env.details as Record<string, unknown>) : undefined;
    throw new RemoteError(name, code, typeof env.error === 'string' ? env.error : JSON.stringify(env.error), details);
  }
  if (status < 200 || status > 299) throw new AppError('PEER_FAILED', `${name}: HTTP ${status}`);
  return env.result;
}

async function* multipartBody(boundary: string, fields: Record<string, string>, field: string, file: Readable): AsyncGenerator<Buffer> {
  for (const [k, v] of Object.entries(fields)) {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  }
  yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${field}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  for await (const chunk of file) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
  yield Buffer.from(`\r\n--${boundary}--\r\n`);
}
