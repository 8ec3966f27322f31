import { Readable } from 'node:stream';
import type { Agent } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { MethodMap, ParamsOf, ResultOf } from '../protocol/method.js';
import { AppError, ERROR_CODES, type ErrorCode } from '../util/errors.js';
import { connectionPool, exchange, isTimeout, readJson, type ClientTls, type ExchangeAnswer, type ExchangeRequest } from './http-exchange.js';

export type { ClientTls } from './http-exchange.js';

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
/** Any other exchange fails after five silent minutes, whatever its own deadline (none for an upload without one). */
const IDLE_TIMEOUT_MS = 5 * 60_000;

/** A typed client for any method map: the same contract the server dispatches from. */
export class RpcClient<M extends MethodMap> {
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly pool: Agent;

  constructor(
    private readonly methods: M,
    options: RpcClientOptions,
  ) {
    this.url = options.url.endsWith('/') ? options.url : `${options.url}/`;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.headers = options.token ? { authorization: `Bearer ${options.token}` } : {};
    this.pool = connectionPool(options.tls);
  }

  /** Calls a JSON method with the verb its spec names. */
  async call<K extends keyof M & string>(name: K, params: ParamsOf<M[K]>, options?: { timeoutMs?: number }): Promise<ResultOf<M[K]>> {
    const spec = this.methods[name];
    if (!spec) throw new AppError('METHOD_NOT_FOUND', `method not found: ${name}`);
    const id = nextId++;
    const deadlineMs = options?.timeoutMs ?? this.timeoutMs;
    const res =
      spec.verb === 'GET'
        ? await this.send(name, { method: 'GET', url: this.query(name, params, id), deadlineMs })
        : await this.send(name, {
            method: 'POST',
            url: new URL(this.url),
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ method: name, params: params ?? {}, id }),
            deadlineMs,
          });
    return (await this.readEnvelope(name, res)) as ResultOf<M[K]>;
  }

  /** Calls a method that answers with a byte stream; errors before the first byte are thrown. The body comes straight from the socket. */
  async stream<K extends keyof M & string>(name: K, params: ParamsOf<M[K]>): Promise<Readable> {
    const res = await this.send(name, {
      method: 'GET',
      url: this.query(name, params, nextId++),
      deadlineMs: 0,
      headersMs: STREAM_HEADERS_TIMEOUT_MS,
      idleMs: STREAM_BODY_TIMEOUT_MS,
    });
    if (String(res.headers['content-type'] ?? '').startsWith('application/json')) {
      await this.readEnvelope(name, res);
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
    let res: ExchangeAnswer;
    try {
      res = await this.send(name, {
        method: 'POST',
        url: new URL(this.url),
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body: Readable.from(multipartBody(boundary, fields, field, file)),
        deadlineMs: options?.timeoutMs ?? 0,
      });
    } catch (err) {
      if (sourceError !== null) {
        if (sourceError instanceof AppError) throw sourceError;
        throw new AppError('INVALID_PARAMS', `${name}: the upload did not complete`, { cause: sourceError });
      }
      throw err;
    }
    return (await this.readEnvelope(name, res)) as ResultOf<M[K]>;
  }

  private query(name: string, params: unknown, id: number): URL {
    const q = new URLSearchParams({ method: name, params: JSON.stringify(params ?? {}), id: String(id) });
    return new URL(`${this.url}?${q.toString()}`);
  }

  /** One exchange with the client's headers and pool; its failures as PEER_FAILED or TIMEOUT. */
  private async send(name: string, r: Omit<ExchangeRequest, 'agent' | 'idleMs'> & { idleMs?: number }): Promise<ExchangeAnswer> {
    try {
      return await exchange({ ...r, headers: { ...this.headers, ...r.headers }, agent: this.pool, idleMs: r.idleMs ?? IDLE_TIMEOUT_MS });
    } catch (err) {
      throw this.failure(name, err);
    }
  }

  private failure(name: string, err: unknown): AppError {
    const timedOut = isTimeout(err);
    return new AppError(timedOut ? 'TIMEOUT' : 'PEER_FAILED', `${name}: ${timedOut ? 'no answer in time from' : 'cannot reach'} ${this.url}`, { cause: err });
  }

  /** The result of an answer's envelope; a body that fails or is not JSON is PEER_FAILED (TIMEOUT when a bound ran out). */
  private async readEnvelope(name: string, res: ExchangeAnswer): Promise<unknown> {
    let body: unknown;
    try {
      body = await readJson(res.body);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw this.failure(name, err);
      throw new AppError('PEER_FAILED', `${name}: the answer (HTTP ${res.status}) is not JSON`, { cause: err });
    }
    return envelopeResult(name, res.status, body);
  }
}

/** The result of an answer in the envelope, or its error raised with the remote code. */
function envelopeResult(name: string, status: number, body: unknown): unknown {
  const env = (body ?? {}) as { result?: unknown; error?: unknown; code?: unknown; details?: unknown };
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
