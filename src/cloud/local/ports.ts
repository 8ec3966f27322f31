import { createServer } from 'node:net';
import { AppError } from '../../util/errors.js';

/** Where node ports are chosen: registered ports below Linux's ephemeral range. */
const STATIC_RANGE_START = 20000;
const STATIC_RANGE_END = 32700;

/** A port the kernel hands out as free on `host` right now (bind to port 0, then release it). */
function anyFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on `port` at `host` and we may bind it. */
export function isPortFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive ports free on `host` (a node's agent API, its mariadbd, its health
 * checks), none in `exclude`: ports promised to nodes whose servers have not bound them yet.
 */
export async function findFreePorts(host: string, count: number, exclude: ReadonlySet<number>): Promise<number[]> {
  for (let attempt = 0; attempt < 100; attempt++) {
    // Below the kernel's ephemeral range (32768 and up on Linux), so an outgoing connection
    // cannot take a port promised to a node whose server has not bound it yet.
    const p = attempt < 80 ? STATIC_RANGE_START + Math.floor(Math.random() * (STATIC_RANGE_END - STATIC_RANGE_START)) : await anyFreePort(host);
    if (attempt < 80 && !(await isPortFree(p, host))) continue;
    const run = Array.from({ length: count }, (_, i) => p + i);
    if (p === 0 || p + count - 1 > 65535 || run.some((q) => exclude.has(q))) continue;
    let free = true;
    for (const q of run.slice(1)) if (!(await isPortFree(q, host))) free = false;
    if (free) return run;
  }
  throw new AppError('BUSY', `no run of ${count} free ports found on ${host}`);
}
