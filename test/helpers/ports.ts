import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Three consecutive free ports (agent API, mariadbd, health checks); returns the first. */
export async function freePortPair(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort(host);
    if (p < 65533 && (await isFree(p + 1, host)) && (await isFree(p + 2, host))) return p;
  }
  throw new Error('no free run of ports');
}

function isFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}
