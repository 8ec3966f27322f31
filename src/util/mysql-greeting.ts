import { connect } from 'node:net';

/**
 * True when a server speaking the MySQL protocol at `host:port` greets a new connection within
 * `timeoutMs`: it runs and accepts clients. It reads the server's first packet only (a protocol-10
 * handshake, or an error packet such as "too many connections", which a running server sends
 * too) and hangs up: no login, no SQL, no password. A frozen server accepts the TCP connection
 * (the kernel does) but never greets, and counts as not answering.
 */
export function mysqlGreets(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const socket = connect({ host, port });
    const timer = setTimeout(() => done(false), timeoutMs);
    let got = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      // 3 bytes of length, 1 of sequence, then the payload: 0x0a (protocol 10) or 0xff (an error).
      if (got.length >= 5) done(got[4] === 0x0a || got[4] === 0xff);
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}
