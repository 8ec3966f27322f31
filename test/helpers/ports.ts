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

/**
 * Three consecutive free ports (agent API, mariadbd, health checks); returns the first. They
 * are chosen below Linux's ephemeral range (32768 and up): mariadbd binds its port only at
 * init_server, and an outgoing connection must not take it meanwhile.
 */
export async function freePortPair(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = 20000 + Math.floor(Math.random() * 12700);
    if ((await isFree(p, host)) && (await isFree(p + 1, host)) && (await isFree(p + 2, host))) return p;
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
