import { chmod, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { AppError } from './errors.js';

/**
 * Listens on the Unix socket `path` for one connection and resolves with it, paused: this
 * process reads nothing from it, so it can be handed whole to a program as its stdin (the
 * receiving end of a same-host data channel, issue #17: no byte passes through Node or socat).
 * The socket is made with mode 0600 (only this OS user may connect; it should live in a
 * directory only that user can enter) and removed once a connection came or the wait ended.
 * `ready` is called once it listens: the caller tells the sender where to connect (which may
 * take long: a busy sender is waited for) and resolves with a `watch` on the sender, whose
 * rejection before a connection ends the wait with that error; a rejection of `ready` itself
 * ends it too. Rejects with PEER_FAILED when nobody connected within `ms` milliseconds of
 * `ready` resolving, or the socket cannot be made.
 */
export async function acceptOne(path: string, ms: number, ready: () => Promise<{ watch: Promise<unknown> }>): Promise<Socket> {
  const server = createServer({ pauseOnConnect: true });
  // Not waited for: a server counts as closed only once its connections end, and the one it
  // accepted lives on in the program it is handed to.
  const closeServer = async (): Promise<void> => {
    server.close();
    await rm(path, { force: true });
  };
  await rm(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new AppError('PEER_FAILED', `cannot listen on ${path}: ${e.message}`, { cause: e })));
    server.listen({ path }, () => resolve());
  });
  server.on('error', () => undefined); // after listening: nothing left to fail but the accept, which the wait below bounds
  let timer: NodeJS.Timeout | undefined;
  try {
    await chmod(path, 0o600);
    const connection = new Promise<Socket>((resolve) => server.once('connection', resolve));
    // The wait for the sender starts once it was told; its watch may settle long after a connection: only a rejection before one counts.
    const failed = Promise.resolve()
      .then(ready)
      .then(
        ({ watch }) =>
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new AppError('PEER_FAILED', `nobody connected to ${path} within ${ms} ms`)), ms);
            watch.catch(reject);
          }),
      );
    return await Promise.race([connection, failed]);
  } finally {
    clearTimeout(timer);
    await closeServer();
  }
}
