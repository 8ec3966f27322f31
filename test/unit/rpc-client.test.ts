import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { method } from '../../src/protocol/method.js';
import { RemoteError, RpcClient } from '../../src/rpc/client.js';
import { connectionPool, exchange, isTimeout, readJson } from '../../src/rpc/http-exchange.js';
import { AppError } from '../../src/util/errors.js';
import { channelCertificates } from '../helpers/channel.js';

const api = {
  get_thing: method<{ n: number }>()({ verb: 'GET', params: z.object({}).strict() }),
  set_thing: method<{ n: number }>()({ verb: 'POST', params: z.object({ n: z.number() }).strict() }),
  dump: method()({ verb: 'GET', params: z.object({}).strict(), result: 'stream' }),
  load: method<{ bytes: number }>()({ verb: 'UPLOAD', params: z.object({}).strict(), files: ['file'] }),
} as const;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A bare HTTP server whose behaviour each test sets: the misbehaving peers a client meets. */
function scriptedServer(create: (h: Handler) => http.Server = (h) => http.createServer(h)): { url: () => string; on: (h: Handler) => void; connections: () => number; close: () => Promise<void> } {
  let handler: Handler = (_q, r) => r.end();
  let connections = 0;
  const server = create((q, r) => handler(q, r));
  server.on('connection', () => connections++);
  server.on('secureConnection', () => connections++);
  server.listen(0, '127.0.0.1');
  const scheme = server instanceof https.Server ? 'https' : 'http';
  return {
    url: () => `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    on: (h) => (handler = h),
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/** The code of the error a promise rejects with. */
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof AppError ? err.code : `not an AppError: ${String(err)}`;
  }
  return 'resolved';
}

describe('the RPC client against peers that misbehave', () => {
  const server = scriptedServer();
  const client = (timeoutMs = 2000): RpcClient<typeof api> => new RpcClient(api, { url: server.url(), timeoutMs });
  afterAll(() => server.close());

  it('reads a result from the envelope, for a GET and a POST (the params in the query or the body)', async () => {
    const seen: string[] = [];
    server.on((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url?.includes('method=get_thing') ? 'query' : ''}${body ? JSON.parse(body).method : ''}`);
        json(res, 200, { result: { n: body ? JSON.parse(body).params.n : 1 }, error: null, id: 1 });
      });
    });
    expect(await client().call('get_thing', {})).toEqual({ n: 1 });
    expect(await client().call('set_thing', { n: 7 })).toEqual({ n: 7 });
    expect(seen).toEqual(['GET query', 'POST set_thing']);
  });

  it('keeps one connection for calls in a row', async () => {
    server.on((_q, res) => json(res, 200, { result: { n: 1 }, error: null }));
    const c = client();
    const before = server.connections();
    for (let i = 0; i < 5; i++) await c.call('get_thing', {});
    expect(server.connections() - before).toBe(1);
  });

  it('raises an error envelope with its code and details, and an unknown code as PEER_FAILED', async () => {
    server.on((_q, res) => json(res, 409, { result: null, error: 'wrong state: RUNNING', code: 'WRONG_STATE', details: { state: 'RUNNING' } }));
    const err = await client()
      .call('get_thing', {})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).code).toBe('WRONG_STATE');
    expect((err as RemoteError).details).toEqual({ state: 'RUNNING', method: 'get_thing' });
    server.on((_q, res) => json(res, 500, { result: null, error: 'odd', code: 'NOT_A_CODE' }));
    expect(await codeOf(client().call('get_thing', {}))).toBe('PEER_FAILED');
  });

  it('refuses an answer that is not JSON, and an error status without an envelope, naming the status', async () => {
    server.on((_q, res) => res.end('<html>proxy error</html>'));
    await expect(client().call('get_thing', {})).rejects.toThrow(/get_thing: the answer \(HTTP 200\) is not JSON/);
    server.on((_q, res) => json(res, 502, null));
    await expect(client().call('get_thing', {})).rejects.toThrow(/get_thing: HTTP 502/);
  });

  it('gives TIMEOUT when no answer comes, and when the answer stalls midway (the deadline covers the body)', async () => {
    server.on(() => undefined);
    expect(await codeOf(client(150).call('get_thing', {}))).toBe('TIMEOUT');
    server.on((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"result":');
    });
    expect(await codeOf(client(150).call('get_thing', {}))).toBe('TIMEOUT');
    expect(await codeOf(client(150).call('get_thing', {}, { timeoutMs: 100 }))).toBe('TIMEOUT');
  });

  it('gives PEER_FAILED, naming the peer, when nothing listens or the connection is cut', async () => {
    const gone = scriptedServer();
    await new Promise((r) => setTimeout(r, 20));
    const url = gone.url();
    await gone.close();
    const err = await new RpcClient(api, { url }).call('get_thing', {}).catch((e: unknown) => e);
    expect((err as AppError).code).toBe('PEER_FAILED');
    expect((err as AppError).message).toContain(`get_thing: cannot reach ${url}`);
    server.on((req) => req.socket.destroy());
    expect(await codeOf(client().call('get_thing', {}))).toBe('PEER_FAILED');
  });

  it('streams a body as it comes, and raises a JSON answer to a stream call', async () => {
    server.on((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(100_000, 1));
      setTimeout(() => res.end(Buffer.alloc(50_000, 2)), 30);
    });
    let bytes = 0;
    for await (const c of await client().stream('dump', {})) bytes += (c as Buffer).length;
    expect(bytes).toBe(150_000);
    server.on((_q, res) => json(res, 409, { result: null, error: 'busy copying', code: 'BUSY' }));
    expect(await codeOf(client().stream('dump', {}))).toBe('BUSY');
    server.on((_q, res) => json(res, 200, { result: {}, error: null }));
    await expect(client().stream('dump', {})).rejects.toThrow(/expected a stream, got a JSON answer/);
  });

  it('uploads a file as multipart after its fields, and reports a file that fails as the upload failing', async () => {
    server.on((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        json(res, 200, { result: { bytes: text.length, method: /name="method"\r\n\r\nload\r\n/.test(text), file: text.includes('a'.repeat(70_000)) }, error: null });
      });
      req.on('error', () => undefined);
    });
    const r = (await client().upload('load', 'file', Readable.from([Buffer.alloc(70_000, 'a')]))) as unknown as { method: boolean; file: boolean };
    expect(r).toMatchObject({ method: true, file: true });
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(1000, 'b');
      throw new Error('disk read failed');
    }
    const err = await client()
      .upload('load', 'file', Readable.from(failing()))
      .catch((e: unknown) => e);
    expect((err as AppError).code).toBe('INVALID_PARAMS');
    expect((err as AppError).message).toContain('load: the upload did not complete');
  });
});

describe('one exchange and its bounds', () => {
  const server = scriptedServer();
  const agent = connectionPool(undefined);
  afterAll(() => server.close());

  it('fails with a TimeoutError when the headers do not come in time, and when the body goes silent', async () => {
    server.on(() => undefined);
    const noHeaders = await exchange({ url: new URL(server.url()), method: 'GET', agent, deadlineMs: 0, idleMs: 5000, headersMs: 100 }).catch((e: unknown) => e);
    expect(isTimeout(noHeaders)).toBe(true);
    server.on((_q, res) => {
      res.writeHead(200);
      res.write('a first part');
    });
    const answer = await exchange({ url: new URL(server.url()), method: 'GET', agent, deadlineMs: 0, idleMs: 150 });
    expect(answer.status).toBe(200);
    const silent = await readJson(answer.body).catch((e: unknown) => e);
    expect(isTimeout(silent)).toBe(true);
  });

  it('does not fail a finished exchange when its deadline passes later, nor the next one on the same connection', async () => {
    server.on((_q, res) => json(res, 200, { ok: true }));
    const first = await exchange({ url: new URL(server.url()), method: 'GET', agent, deadlineMs: 100, idleMs: 100 });
    expect(await readJson(first.body)).toEqual({ ok: true });
    await new Promise((r) => setTimeout(r, 200));
    server.on((_q, res) => setTimeout(() => json(res, 200, { ok: 2 }), 150));
    const second = await exchange({ url: new URL(server.url()), method: 'GET', agent, deadlineMs: 1000, idleMs: 1000 });
    expect(await readJson(second.body)).toEqual({ ok: 2 });
  });
});

describe('the RPC client over mutual TLS', () => {
  let dir: string;
  let server: ReturnType<typeof scriptedServer> | undefined;
  let certs: Awaited<ReturnType<typeof channelCertificates<'server' | 'client' | 'other'>>>;
  const pem = (p: string): Promise<string> => readFile(p, 'utf8');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cps-rpc-client-'));
    certs = await channelCertificates(dir, 'rpc-client test CA', ['server', 'client', 'other'] as const);
    const [key, cert, ca] = await Promise.all([pem(certs.server.key), pem(certs.server.cert), pem(certs.server.ca)]);
    server = scriptedServer((h) => https.createServer({ key, cert, ca, requestCert: true, rejectUnauthorized: true }, h));
    server.on((req, res) => json(res, 200, { result: { n: (req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN === 'client' ? 1 : 0 }, error: null }));
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('calls with its certificate and checks the server against the CA', async () => {
    const tls = { ca: await pem(certs.client.ca), cert: await pem(certs.client.cert), key: await pem(certs.client.key) };
    expect(await new RpcClient(api, { url: server!.url(), tls }).call('get_thing', {})).toEqual({ n: 1 });
  });

  it('is refused without a certificate, and refuses a server of another CA', async () => {
    const ca = await pem(certs.client.ca);
    expect(await codeOf(new RpcClient(api, { url: server!.url(), tls: { ca } }).call('get_thing', {}))).toBe('PEER_FAILED');
    const strangers = await channelCertificates(join(dir, 'strangers'), 'another CA', ['x'] as const);
    const tls = { ca: await pem(strangers.x.ca), cert: await pem(certs.client.cert), key: await pem(certs.client.key) };
    const err = await new RpcClient(api, { url: server!.url(), tls }).call('get_thing', {}).catch((e: unknown) => e);
    expect((err as AppError).code).toBe('PEER_FAILED');
    expect(String(((err as AppError).cause as Error).message)).toMatch(/certificate/);
  });
});
