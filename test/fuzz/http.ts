import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';

/** One HTTP request exactly as the fuzzers mean to send it: verb, raw path, headers and bytes. */
export interface RawRequest {
  verb: string;
  /** Path and query, sent as they are (no normalisation, no encoding). */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | null;
  /** Send the body with chunked transfer encoding instead of a Content-Length. */
  chunked?: boolean;
  /** Milliseconds before the whole exchange counts as hung. */
  timeoutMs?: number;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The first bytes of the body (at most `KEPT_BYTES`). */
  body: Buffer;
  /** How many bytes the body had in all. */
  bodyBytes: number;
  ms: number;
}

const KEPT_BYTES = 4 * 1024 * 1024;

/**
 * The one helper every fuzz request goes through: a fresh connection per request (no pooling,
 * so one hostile request cannot leave state in a shared socket), a hard timeout, and the body
 * kept up to a bound (a valid `dump` or `stream_snapshot` may answer with many megabytes).
 * `extraHeaders` is where credentials go (see `managerHeaders`).
 */
export function sendRaw(baseUrl: string, req: RawRequest, extraHeaders: Record<string, string> = {}): Promise<RawResponse> {
  const base = new URL(baseUrl);
  const started = Date.now();
  const timeoutMs = req.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(req.headers ?? {}), ...extraHeaders };
    if (req.body && !req.chunked) headers['content-length'] = String(req.body.length);
    if (req.chunked) headers['transfer-encoding'] = 'chunked';
    const r = request({ host: base.hostname, port: base.port, method: req.verb, path: req.path, headers, agent: false });
    const timer = setTimeout(() => {
      r.destroy(new Error(`no complete answer to ${req.verb} ${req.path.slice(0, 80)} within ${timeoutMs} ms`));
    }, timeoutMs);
    r.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    r.on('response', (res) => {
      const kept: Buffer[] = [];
      let keptBytes = 0;
      let total = 0;
      res.on('data', (c: Buffer) => {
        total += c.length;
        if (keptBytes < KEPT_BYTES) {
          kept.push(c);
          keptBytes += c.length;
        }
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(kept), bodyBytes: total, ms: Date.now() - started });
      });
    });
    if (req.body && req.chunked) {
      // A few chunks of uneven size, so the server sees a body that arrives in pieces.
      const b = req.body;
      const cut1 = Math.floor(b.length / 3);
      const cut2 = Math.floor((2 * b.length) / 3);
      for (const part of [b.subarray(0, cut1), b.subarray(cut1, cut2), b.subarray(cut2)]) if (part.length > 0) r.write(part);
      r.end();
    } else {
      r.end(req.body ?? undefined);
    }
  });
}

/**
 * Credentials for a manager: once the manager requires an API token, it is in
 * `<dataDir>/api-token`; read at request time, so a token written after start-up is used.
 */
export function managerHeaders(dataDir: string): Record<string, string> {
  const f = join(dataDir, 'api-token');
  if (!existsSync(f)) return {};
  return { authorization: `Bearer ${readFileSync(f, 'utf8').trim()}` };
}

/** A well-formed call over the helper (for set-up and the before/after checks), returning `result` or throwing `error`. */
export async function rpcCall(baseUrl: string, method: string, params: unknown, extraHeaders: Record<string, string> = {}, timeoutMs = 60_000): Promise<unknown> {
  const res = await sendRaw(
    baseUrl,
    {
      verb: 'POST',
      path: '/',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ method, params, id: 1 })),
      timeoutMs,
    },
    extraHeaders,
  );
  const env = JSON.parse(res.body.toString('utf8')) as { result?: unknown; error?: unknown; code?: unknown };
  if (env.error !== null && env.error !== undefined) throw new Error(`${method}: ${String(env.code)}: ${String(env.error)}`);
  return env.result;
}
