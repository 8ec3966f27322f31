import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { method } from '../../src/protocol/method.js';
import { createRpcServer } from '../../src/rpc/server.js';
import { silentLogger } from '../../src/util/logger.js';

const api = {
  ping: method<string>()({ verb: 'GET', params: z.object({}).strict() }),
  change: method<number>()({ verb: 'POST', params: z.object({ to: z.number() }).strict() }),
} as const;

const DEADLINE_MS = 300;

/**
 * Sends `head` (request line and headers) and `partial` (the start of a body) and then nothing:
 * resolves with how long the server took to close the connection, or null if it had not after 5 s.
 */
function stall(port: number, head: string, partial: string): Promise<number | null> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = connect(port, '127.0.0.1', () => s.write(head + partial));
    const give = setTimeout(() => {
      s.destroy();
      resolve(null);
    }, 5000);
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(give);
      resolve(Date.now() - t0);
    });
  });
}

const post = (path: string, length: number): string => `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

// Each route that takes a JSON body cuts off one that trickles in, whatever context it was
// declared in: the API's POST (with the upload plugin in its own context), an open route, and a
// route added to the server afterwards (as the manager adds the web console's).
describe('the body deadline, on every route that takes a body', () => {
  let app: FastifyInstance;
  let port: number;

  beforeAll(async () => {
    app = await createRpcServer(
      api,
      { ping: async () => 'pong', change: async (p) => p.to },
      { logger: silentLogger(), bodyTimeoutMs: DEADLINE_MS, openRoutes: { '/open': async (body) => body } },
    );
    app.post('/later', async (req) => req.body);
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(() => app.close());

  for (const path of ['/', '/open', '/later']) {
    it(`closes a stalled JSON body to POST ${path} after the deadline, not before`, async () => {
      const ms = await stall(port, post(path, 100), '{"method":');
      expect(ms).not.toBeNull();
      expect(ms!).toBeGreaterThanOrEqual(DEADLINE_MS - 20);
    });
  }

  it('answers a whole body on each of them, and a GET, as usual', async () => {
    const call = async (path: string, body: unknown): Promise<unknown> => (await (await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json());
    expect(await call('/', { method: 'change', params: { to: 4 }, id: 1 })).toMatchObject({ result: 4, error: null });
    expect(await call('/open', { a: 1 })).toMatchObject({ result: { a: 1 } });
    expect(await call('/later', { b: 2 })).toEqual({ b: 2 });
    expect(await (await fetch(`http://127.0.0.1:${port}/?method=ping&params=%7B%7D&id=2`)).json()).toMatchObject({ result: 'pong', id: 2 });
  });

  it('keeps a GET that is slow to be read open past the deadline (no body, no timer)', async () => {
    const s = connect(port, '127.0.0.1');
    await new Promise<void>((r) => s.once('connect', () => r()));
    let answer = '';
    s.on('data', (c: Buffer) => (answer += c.toString()));
    s.write('GET /?method=ping&params=%7B%7D&id=3 HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, DEADLINE_MS * 2));
    expect(s.destroyed).toBe(false);
    expect(answer).toContain('"pong"');
    s.destroy();
  });
});
