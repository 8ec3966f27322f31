import { createRequire } from 'node:module';
import type { ChildProcess } from 'node:child_process';
import { freePort } from './net.js';
import { spawnTracked, stopChild } from './proc.js';

/** Which floor: Node's own HTTP server, or fastify (the manager's framework) with one route. */
export type FloorKind = 'node:http' | 'fastify';

/** A floor server running in a child process of its own (as the manager runs in its own). */
export interface FloorServer {
  /** `http://127.0.0.1:<port>/`. */
  readonly url: string;
  /** The child's pid (for its CPU and memory). */
  readonly pid: number;
  /** Stops the child (by its pid) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * The program of a floor server: it answers every request with `body` as `application/json`,
 * nothing else (no authentication, no routing beyond `/`, no parameters read).
 */
function program(kind: FloorKind, port: number, body: string, fastifyPath: string): string {
  const text = JSON.stringify(body);
  if (kind === 'node:http') {
    return `const { createServer } = require('node:http');
const body = ${text};
createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) }); res.end(body); })
  .listen(${port}, '127.0.0.1', () => process.stdout.write('up\\n'));`;
  }
  return `const Fastify = require(${JSON.stringify(fastifyPath)});
const body = ${text};
const app = Fastify({ logger: false });
app.get('/', async (req, reply) => reply.type('application/json').send(body));
app.listen({ port: ${port}, host: '127.0.0.1' }).then(() => process.stdout.write('up\\n'));`;
}

/**
 * Starts a floor server answering `body` (the same bytes as the manager's answer being
 * compared), in a new `node` process on a free loopback port; resolves once it listens.
 * Throws if it exits or does not listen within 10 s.
 */
export async function startFloorServer(kind: FloorKind, body: string): Promise<FloorServer> {
  const port = await freePort();
  const fastifyPath = createRequire(import.meta.url).resolve('fastify');
  const child: ChildProcess = spawnTracked(`floor ${kind}`, process.execPath, ['-e', program(kind, port, body, fastifyPath)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = child.pid!;
  try {
    await new Promise<void>((resolve, reject) => {
      const done = (err: Error | null): void => {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      const onData = (): void => done(null);
      const onExit = (): void => done(new Error(`the ${kind} floor server exited before listening`));
      const timer = setTimeout(() => done(new Error(`the ${kind} floor server did not listen within 10 s`)), 10_000);
      child.stdout!.once('data', onData);
      child.once('exit', onExit);
    });
  } catch (e) {
    await stopChild(child, 2000);
    throw e;
  }
  child.stdout!.resume();
  return { url: `http://127.0.0.1:${port}/`, pid, stop: () => stopChild(child, 5000) };
}
