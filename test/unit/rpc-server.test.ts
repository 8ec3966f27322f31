import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { method } from '../../src/protocol/method.js';
import { RpcClient } from '../../src/rpc/client.js';
import { createRpcServer, streamResult } from '../../src/rpc/server.js';
import { AppError } from '../../src/util/errors.js';
import { silentLogger } from '../../src/util/logger.js';

const api = {
  echo: method<{ n: number; s: string | null }>()({ verb: 'GET', params: z.object({ n: z.number().int(), s: z.string().optional() }).strict() }),
  change: method<{ changed: number }>()({ verb: 'POST', params: z.object({ to: z.number() }).strict() }),
  refuse: method()({ verb: 'POST', params: z.object({}).strict() }),
  crash: method()({ verb: 'GET', params: z.object({}).strict() }),
  bytes: method()({ verb: 'GET', params: z.object({ size: z.number().int().min(0) }).strict(), result: 'stream' }),
  broken_stream: method()({ verb: 'GET', params: z.object({}).strict(), result: 'stream' }),
  upload: method<{ bytes: number; text: string }>()({ verb: 'UPLOAD', params: z.object({}).strict(), files: ['mysqldump_file'] }),
  upload_watch: method<{ bytes: number }>()({ verb: 'UPLOAD', params: z.object({}).strict(), files: ['mysqldump_file'] }),
} as const;

let state = 0;

describe('the JSON-RPC transport', () => {
  let app: FastifyInstance;
  let url: string;
  /** How the watched upload's file ended, as its handler saw it. */
  let watched: string | null = null;
  let client: RpcClient<typeof api>;

  beforeAll(async () => {
    app = await createRpcServer(
      api,
      {
        echo: async (p) => ({ n: p.n, s: p.s ?? null }),
        change: async (p) => {
          state = p.to;
          return { changed: p.to };
        },
        refuse: async () => {
          throw new AppError('WRONG_STATE', 'wrong state to refuse: RUNNING', { details: { state: 'RUNNING' } });
        },
        crash: async () => {
          throw new TypeError('boom with a secret inside');
        },
        bytes: async (p) => streamResult(Readable.from([Buffer.alloc(p.size, 7)])),
        broken_stream: async () => {
          async function* gen(): AsyncGenerator<Buffer> {
            yield Buffer.alloc(64 * 1024, 1);
            await new Promise((r) => setTimeout(r, 20));
            throw new Error('source failed midway');
          }
          return streamResult(Readable.from(gen()));
        },
        upload_watch: async (_p, ctx) => {
          let bytes = 0;
          try {
            for await (const c of ctx.file!) bytes += (c as Buffer).length;
            watched = `ended after ${bytes} bytes`;
          } catch (e) {
            watched = `failed: ${(e as Error).message}`;
          }
          return { bytes };
        },
        upload: async (_p, ctx) => {
          const chunks: Buffer[] = [];
          for await (const c of ctx.file!) chunks.push(c as Buffer);
          const all = Buffer.concat(chunks);
          return { bytes: all.length, text: all.toString('utf8').slice(0, 100) };
        },
      },
      { logger: silentLogger(), bodyLimit: 4096, fileLimit: 1024 * 1024 },
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/`;
    client = new RpcClient(api, { url });
  });

  afterAll(async () => {
    await app.close();
  });

  const get = async (query: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${url}?${query}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const post = async (body: string, type = 'application/json'): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('answers a GET in the ConPaaS envelope, echoing the id', async () => {
    const r = await get(`method=echo&params=${encodeURIComponent('{"n":3,"s":"x"}')}&id=42`);
    expect(r).toEqual({ status: 200, body: { result: { n: 3, s: 'x' }, error: null, id: 42 } });
  });

  it('answers a POST with a JSON body', async () => {
    const r = await post(JSON.stringify({ method: 'change', params: { to: 5 }, id: 'abc' }));
    expect(r).toEqual({ status: 200, body: { result: { changed: 5 }, error: null, id: 'abc' } });
    expect(state).toBe(5);
  });

  it('uses JSON-RPC 2.0 framing when the request asks for it', async () => {
    const ok = await post(JSON.stringify({ jsonrpc: '2.0', method: 'echo', params: { n: 1 }, id: 9 }));
    expect(ok.body).toEqual({ jsonrpc: '2.0', id: 9, result: { n: 1, s: null } });
    const bad = await post(JSON.stringify({ jsonrpc: '2.0', method: 'echo', params: { n: 'x' }, id: 10 }));
    expect(bad.body).toMatchObject({ jsonrpc: '2.0', id: 10, error: { code: -32602, data: { code: 'INVALID_PARAMS' } } });
    const missing = await post(JSON.stringify({ jsonrpc: '2.0', method: 'nope', id: 11 }));
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: { code: -32601 } });
  });

  const cases: Array<{ name: string; req: () => Promise<{ status: number; body: Record<string, unknown> }>; status: number; code: string; error: RegExp }> = [
    { name: 'unknown method', req: () => get('method=nope'), status: 404, code: 'METHOD_NOT_FOUND', error: /method not found: nope/ },
    { name: 'no method (GET)', req: () => get('params=%7B%7D'), status: 400, code: 'NO_METHOD', error: /no method/ },
    { name: 'no method (POST)', req: () => post('{"params":{}}'), status: 400, code: 'NO_METHOD', error: /no method/ },
    { name: 'method of the wrong type', req: () => post('{"method":["echo"]}'), status: 400, code: 'NO_METHOD', error: /must be a string/ },
    { name: 'malformed JSON body', req: () => post('{"method": "echo",'), status: 400, code: 'PARSE_ERROR', error: /malformed/ },
    { name: 'a JSON body that is not an object', req: () => post('[1,2]'), status: 400, code: 'PARSE_ERROR', error: /JSON object/ },
    { name: 'malformed params in a GET', req: () => get('method=echo&params=%7Bnope'), status: 400, code: 'PARSE_ERROR', error: /'params' is not valid JSON/ },
    { name: 'params that are not an object', req: () => post('{"method":"echo","params":[1]}'), status: 200, code: 'INVALID_PARAMS', error: /params must be a JSON object/ },
    { name: 'missing parameter', req: () => post('{"method":"echo","params":{}}'), status: 200, code: 'INVALID_PARAMS', error: /missing parameter 'n'/ },
    { name: 'wrong type', req: () => post('{"method":"echo","params":{"n":"3"}}'), status: 200, code: 'INVALID_PARAMS', error: /parameter 'n' must be a number, got string/ },
    { name: 'unexpected parameter', req: () => post('{"method":"echo","params":{"n":3,"evil":1}}'), status: 200, code: 'INVALID_PARAMS', error: /unexpected parameter 'evil'/ },
    { name: 'state-changing method over GET', req: () => get('method=change&params=%7B%22to%22%3A1%7D'), status: 405, code: 'WRONG_VERB', error: /call it with POST/ },
    { name: 'upload method with JSON', req: () => post('{"method":"upload"}'), status: 405, code: 'WRONG_VERB', error: /multipart/ },
    { name: 'body over the size limit', req: () => post(JSON.stringify({ method: 'echo', params: { n: 1, s: 'x'.repeat(10_000) } })), status: 413, code: 'TOO_LARGE', error: /size limit/ },
    { name: 'unsupported content type', req: () => post('method=echo', 'text/plain'), status: 400, code: 'PARSE_ERROR', error: /content type/ },
    { name: 'error raised by a handler', req: () => post('{"method":"refuse","id":1}'), status: 200, code: 'WRONG_STATE', error: /wrong state to refuse: RUNNING/ },
    { name: 'a bug in a handler', req: () => get('method=crash'), status: 200, code: 'INTERNAL', error: /^internal error$/ },
    { name: 'an unknown path', req: async () => { const r = await fetch(`${url}other`); return { status: r.status, body: (await r.json()) as Record<string, unknown> }; }, status: 404, code: 'METHOD_NOT_FOUND', error: /no such path/ },
  ];

  for (const c of cases) {
    it(`refuses ${c.name} with ${c.code}`, async () => {
      const before = state;
      const r = await c.req();
      expect(r.status).toBe(c.status);
      expect(r.body['result']).toBeNull();
      expect(r.body['code']).toBe(c.code);
      expect(String(r.body['error'])).toMatch(c.error);
      expect(state).toBe(before);
    });
  }

  it('never leaks the message of an internal error', async () => {
    const r = await get('method=crash');
    expect(JSON.stringify(r.body)).not.toContain('secret');
  });

  it('carries error details, and the typed client raises them with their code', async () => {
    await expect(client.call('refuse', {})).rejects.toMatchObject({ code: 'WRONG_STATE', details: { state: 'RUNNING', method: 'refuse' } });
    await expect(client.call('echo', { n: 2 })).resolves.toEqual({ n: 2, s: null });
  });

  it('streams a large result without the envelope', async () => {
    const s = await client.stream('bytes', { size: 3 * 1024 * 1024 });
    let n = 0;
    for await (const c of s) n += (c as Buffer).length;
    expect(n).toBe(3 * 1024 * 1024);
  });

  it('cuts the connection when a stream fails midway, so the reader sees an error, not a short file', async () => {
    const s = await client.stream('broken_stream', {});
    let n = 0;
    await expect(
      (async () => {
        for await (const c of s) n += (c as Buffer).length;
      })(),
    ).rejects.toThrow();
    expect(n).toBeGreaterThan(0);
  });

  it('answers a stream method that fails before its first byte with a JSON error', async () => {
    await expect(client.stream('bytes', { size: -1 })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
  });

  it('streams a multipart upload to the handler', async () => {
    const r = await client.upload('upload', 'mysqldump_file', Readable.from([Buffer.from('INSERT 1;\n'), Buffer.from('INSERT 2;\n')]));
    expect(r).toEqual({ bytes: 20, text: 'INSERT 1;\nINSERT 2;\n' });
  });

  it('refuses an upload in the wrong field, an upload to a JSON method, and a file over the limit', async () => {
    await expect(client.upload('upload', 'other', Readable.from([Buffer.from('x')]))).rejects.toThrow(/unexpected file field 'other'/);
    const form = new FormData();
    form.set('method', 'echo');
    form.set('file', new Blob(['x']), 'f');
    const res = await fetch(url, { method: 'POST', body: form });
    expect(res.status).toBe(405);
    expect(((await res.json()) as { code: string }).code).toBe('WRONG_VERB');
    await expect(client.upload('upload', 'mysqldump_file', Readable.from([Buffer.alloc(2 * 1024 * 1024)]))).rejects.toMatchObject({ code: 'TOO_LARGE' });
  });

  it('fails the file a handler reads when its caller goes away midway (the connection cut), so the handler never waits forever', async () => {
    watched = null;
    const boundary = 'XyZ';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="method"\r\n\r\nupload_watch\r\n--${boundary}\r\nContent-Disposition: form-data; name="mysqldump_file"; filename="d.sql"\r\n\r\n`;
    const { port } = new URL(url);
    const sock = connect(Number(port), '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000\r\n\r\n${head}${'x'.repeat(5000)}`);
    await new Promise((r) => setTimeout(r, 200));
    sock.destroy();
    const deadline = Date.now() + 5000;
    while (watched === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(watched).toMatch(/^failed: /);
    await expect(client.call('echo', { n: 2 })).resolves.toEqual({ n: 2, s: null });
  });

  it('answers a truncated multipart body with an error and stays up', async () => {
    const boundary = 'XyZ';
    const body = `--${boundary}\r\nContent-Disposition: form-data; name="method"\r\n\r\nupload\r\n--${boundary}\r\nContent-Disposition: form-data; name="mysqldump_file"; filename="d.sql"\r\n\r\nINSERT 1;`;
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body });
    const json = (await res.json()) as { result: unknown; error: string };
    expect(json.result).toBeNull();
    expect(json.error).toBeTruthy();
    await expect(client.call('echo', { n: 1 })).resolves.toEqual({ n: 1, s: null });
  });
});
