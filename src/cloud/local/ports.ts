import { createServer } from 'node:net';
import { AppError } from '../../util/errors.js';

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
 * Two consecutive ports free on `host` (a node's agent API, then its mariadbd), neither in
 * `exclude`: ports promised to nodes whose server has not bound them yet.
 */
export async function findFreePortPair(host: string, exclude: ReadonlySet<number>): Promise<[number, number]> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const p = await anyFreePort(host);
    if (p === 0 || p >= 65535 || exclude.has(p) || exclude.has(p + 1)) continue;
    if (await isPortFree(p + 1, host)) return [p, p + 1];
  }
  throw new AppError('BUSY', `no pair of free ports found on ${host}`);
}
