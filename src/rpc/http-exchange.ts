/**
 * One HTTP request and its answer over `node:http`/`node:https`, with the bounds a caller
 * needs: a deadline for the whole exchange, a limit on the wait for the answer's headers, and a
 * limit on silence on the connection. The RPC client and the local driver's health probe use it.
 *
 * Why not `fetch`/undici: measured on 2026-12-07 (Node 20.20.2, the manager's other libraries
 * loaded, 50 local requests), a process that made its calls with `fetch` held 14–18 MiB more
 * RSS than one that made them with `node:http`; the manager's idle memory is one of issue #17's
 * goals, and the client needs nothing `node:http` lacks.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { pipeline, type Readable } from 'node:stream';

/** A connection kept open between requests is closed after this long unused (ms); a server's smaller `Keep-Alive: timeout` hint wins (Node's agent reads it). */
const FREE_SOCKET_MS = 4_000;

/** TLS material of a client (PEM texts). */
export interface ClientTls {
  /** The CA the server's certificate must chain to. */
  ca: string;
  /** A client certificate and key, for servers that ask for one (mutual TLS). */
  cert?: string;
  /** The client certificate's key. */
  key?: string;
}

/**
 * A pool of kept-alive connections for one client: HTTPS with `tls` (the server's certificate
 * checked against `tls.ca`, and a client certificate offered when given), plain HTTP without.
 */
export function connectionPool(tls: ClientTls | undefined): http.Agent {
  const common = { keepAlive: true, timeout: FREE_SOCKET_MS };
  if (!tls) return new http.Agent(common);
  return new https.Agent({ ...common, ca: tls.ca, ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}) });
}

/** What to send, and how long each part of the exchange may take. */
export interface ExchangeRequest {
  /** The full URL (`http:` or `https:`). */
  url: URL;
  /** The HTTP method. */
  method: 'GET' | 'POST';
  /** Request headers. */
  headers?: Record<string, string>;
  /** A body sent whole, or streamed from a readable (chunked). */
  body?: string | Readable;
  /** The pool to use; its kind (http/https) must match the URL's scheme. */
  agent: http.Agent;
  /** Milliseconds for the whole exchange, the answer's body included; 0 for none. */
  deadlineMs: number;
  /** Milliseconds the connection may stay silent (either way) before the exchange fails. */
  idleMs: number;
  /** Milliseconds until the answer's headers must have come; 0 for none. */
  headersMs?: number;
}

/** An answer whose headers have come; its body is still to be read (or destroyed). */
export interface ExchangeAnswer {
  /** The HTTP status. */
  status: number;
  /** The answer's headers (lower-case names). */
  headers: IncomingHttpHeaders;
  /** The answer's body as a stream; a bound that runs out later fails it with a TimeoutError. */
  body: IncomingMessage;
}

/**
 * Sends a request and resolves once the answer's headers have come.
 * Rejects with the socket's error (refused, reset, TLS…), the body stream's error when a streamed
 * body fails, or an `Error` named `TimeoutError` when a bound runs out before the headers.
 */
export function exchange(r: ExchangeRequest): Promise<ExchangeAnswer> {
  return new Promise((resolve, reject) => {
    const client = r.url.protocol === 'https:' ? https : http;
    const req = client.request(r.url, { method: r.method, headers: r.headers, agent: r.agent });
    let answer: IncomingMessage | null = null;
    let over = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (): void => {
      over = true;
      for (const t of timers) clearTimeout(t);
    };
    const fail = (err: Error): void => {
      if (over) return;
      if (answer) answer.destroy(err);
      else req.destroy(err);
    };
    if (r.deadlineMs > 0) timers.push(setTimeout(() => fail(timeoutError(`no answer within ${r.deadlineMs} ms`)), r.deadlineMs));
    if (r.headersMs) timers.push(setTimeout(() => answer ?? fail(timeoutError(`no answer began within ${r.headersMs} ms`)), r.headersMs));
    req.setTimeout(r.idleMs, () => fail(timeoutError(`the connection was silent for ${r.idleMs} ms`)));
    req.once('error', (err) => {
      if (answer) return; // the body stream carries it from here
      finish();
      reject(err);
    });
    req.once('response', (res) => {
      answer = res;
      res.once('close', finish);
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
    });
    if (r.body === undefined || typeof r.body === 'string') req.end(r.body);
    else pipeline(r.body, req, (err) => err && req.destroy(err));
  });
}

/**
 * Reads an answer's whole body and parses it as JSON.
 * Throws the body stream's error, or a `SyntaxError` when the text is not JSON.
 */
export async function readJson(body: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

/** True for the error `exchange` gives when one of its bounds runs out. */
export function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError';
}

function timeoutError(message: string): Error {
  const err = new Error(message);
  err.name = 'TimeoutError';
  return err;
}
