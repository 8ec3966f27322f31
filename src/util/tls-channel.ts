import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { isAbsolute } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, isAppError } from './errors.js';
import { TailBuffer, describeExit, terminate, waitExit, type Exit } from './proc.js';
import { which } from './which.js';

/**
 * A one-time data channel between two agents whose bytes never pass through Node on the
 * receiving end and are encrypted outside it on both (issue #17): `socat` does the TCP and the
 * TLS. Measured 2026-12-07 (2 vCPU), 1 GiB from one process to another: TLS in Node (HTTPS,
 * undici) 3.7–4.2 s, the same through two `socat` with TLS 2.1 s (`-b 65536`; 3.5 s with
 * socat's default 8 KiB blocks), plain `socat` 1.0 s.
 *
 * The receiver listens on a port the kernel picks and hands the bytes straight to a program's
 * stdin (`mbstream`); the sender connects and writes what it is given — a stream, or a program's
 * own output (ChannelSource), which then passes through no Node process at all. With TLS each end shows
 * its own certificate and checks that the other's is signed by the service's CA and bears the
 * expected name (socat's `verify=1,commonname=`), so the bytes reach only the node they are for.
 * Between two agents of one host the channel can be a Unix socket (mode 0600) instead: no TLS,
 * the kernel's file permissions keep other users out.
 */

/** The TLS of one end: PEM file paths (never their content), and the certificate name (CN) the other end must show. */
export interface ChannelTls {
  /** This end's certificate. */
  cert: string;
  /** This end's private key (the path only: socat reads it). */
  key: string;
  /** The CA both certificates are signed by. */
  ca: string;
  /** The name the other end's certificate must bear (a node id, or a static host's address). */
  peerName: string;
}

/** Seconds a channel may go without a byte moving before either end gives up (socat `-T`). */
export const CHANNEL_IDLE_SECONDS = 600;

/** socat's block size: 64 KiB moves 1 GiB through TLS in 2.1 s where the default 8 KiB takes 3.5 s (measured above). */
const BLOCK_BYTES = 65536;

/** Seconds a sender tries to connect (a firewall that drops the packets shows as this wait). */
const CONNECT_SECONDS = 10;

/** How long (ms) a new listener may take to report its port. */
const LISTEN_REPORT_MS = 10_000;

/** TCP keepalive on both ends: a peer host that vanished is noticed within about a minute. */
const KEEPALIVE = 'keepalive,keepidle=30,keepintvl=10,keepcnt=3';

/** What socat's address syntax leaves alone in a value (`,` `:` `!` quotes and spaces have meanings there). */
const PLAIN_VALUE = /^[A-Za-z0-9_./@+-]+$/;

/** The `socat` program, or null when the host lacks it (then the HTTPS stream is used instead). */
export function socatProgram(): string | null {
  const p = which('socat');
  return isAbsolute(p) ? p : null;
}

/** The longest Unix socket path the kernel takes (sun_path holds 108 bytes with its NUL). */
const SOCKET_PATH_MAX = 107;

/** True when a channel end is a Unix socket (an absolute path) rather than a host address. */
export function isSocketPath(hostOrPath: string): boolean {
  return hostOrPath.startsWith('/');
}

/**
 * Why a channel to or from `host` (an address, or an absolute path: a Unix socket) with `tls`
 * cannot be made here, or null when it can: socat is missing, a value would need quoting in
 * socat's address syntax (an IPv6 address, a path with a comma or a colon), a socket path is too
 * long. The caller then uses the HTTPS stream.
 */
export function channelUnusable(host: string, tls: ChannelTls | null): string | null {
  if (socatProgram() === null) return 'socat is not installed';
  const values = [host, ...(tls ? [tls.cert, tls.key, tls.ca, tls.peerName] : [])];
  const bad = values.find((v) => !PLAIN_VALUE.test(v));
  if (bad !== undefined) return `a value socat cannot take unquoted: ${JSON.stringify(bad.slice(0, 80))}`;
  return isSocketPath(host) && Buffer.byteLength(host) > SOCKET_PATH_MAX ? `a socket path longer than ${SOCKET_PATH_MAX} bytes: ${host.slice(0, 80)}…` : null;
}

function tlsOptions(tls: ChannelTls): string {
  return `cert=${tls.cert},key=${tls.key},cafile=${tls.ca},verify=1,commonname=${tls.peerName}`;
}

/** socat's own error lines (`E …`), or its last lines when it wrote none. */
function socatErrors(err: TailBuffer): string {
  const lines = err.text().split('\n');
  const errors = lines.filter((l) => / E /.test(l)).map((l) => l.replace(/^.* E /, ''));
  return (errors.length > 0 ? errors : lines.filter((l) => l.trim() !== '').slice(-2)).slice(-3).join('; ');
}

function requireSocat(): string {
  const p = socatProgram();
  if (p === null) throw new AppError('WRONG_STATE', 'cannot open a data channel: socat is not installed');
  return p;
}

/** A listening receiver: see listenChannel. */
export interface ChannelListener {
  /** The TCP port it listens on (the kernel's choice); 0 on a Unix socket. */
  port: number;
  /**
   * Settles when the channel ends: resolves once the sender closed it after its last byte
   * (every byte then is in `into`); rejects with PEER_FAILED when socat fails (a refused
   * certificate, a broken connection, `idleSeconds` without a byte) or the listener was closed.
   */
  done: Promise<void>;
  /** Fails the channel unless a sender has connected within `ms` (call it once the sender was told the port). */
  expectSender(ms: number): void;
  /** True once anyone connected (before any certificate check): false means no sender ever reached it. */
  readonly connected: boolean;
  /** Stops the listener (any time, more than once); `done` rejects unless it had ended. */
  close(): void;
}

/**
 * Listens on `bind` — an address of this host, or an absolute path: a Unix socket made with mode
 * 0600 (for a sender on the same host; no TLS: only this user can connect) — for one sender and
 * writes what it sends into `into`, which must be backed by a file descriptor (a child's stdin
 * pipe): it is handed to socat and this process's own end of it is closed, so the program
 * reading it sees the end of the stream when the sender closes. With `tls`, the sender must show a certificate of the CA bearing
 * `tls.peerName`. Throws WRONG_STATE when socat is missing, PEER_FAILED when it cannot listen.
 */
export async function listenChannel(bind: string, tls: ChannelTls | null, into: Writable, idleSeconds = CHANNEL_IDLE_SECONDS): Promise<ChannelListener> {
  const socat = requireSocat();
  const unix = isSocketPath(bind);
  const address = unix ? `UNIX-LISTEN:${bind},mode=600,unlink-early` : tls ? `OPENSSL-LISTEN:0,bind=${bind},${tlsOptions(tls)},${KEEPALIVE}` : `TCP-LISTEN:0,bind=${bind},${KEEPALIVE}`;
  // -d -d: socat reports the port it got and each connection it accepts, which is all this reads.
  const child = spawn(socat, ['-d', '-d', '-b', String(BLOCK_BYTES), '-T', String(idleSeconds), '-u', address, 'STDOUT'], { stdio: ['ignore', into, 'pipe'] });
  into.destroy();
  const err = new TailBuffer();
  let connected = false;
  let closedByUs = false;
  let senderTimer: NodeJS.Timeout | undefined;
  const exited = waitExit(child);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new AppError('PEER_FAILED', `the data channel did not start listening on ${bind} within ${LISTEN_REPORT_MS} ms`)), LISTEN_REPORT_MS);
    child.stderr?.on('data', (c: Buffer) => {
      err.push(c);
      const text = err.text();
      const m = /listening on AF=\d+ \S*:(\d+)\s*$/m.exec(text);
      if (m || (unix && /listening on AF=1 /.test(text))) {
        clearTimeout(timer);
        resolve(m ? Number(m[1]) : 0);
      }
      if (/accepting connection from/.test(text)) connected = true;
    });
    exited.then(
      (e) => {
        clearTimeout(timer);
        reject(new AppError('PEER_FAILED', `the data channel could not listen on ${bind}: ${describeExit(e)}: ${socatErrors(err)}`));
      },
      (e: Error) => {
        clearTimeout(timer);
        reject(new AppError('PEER_FAILED', `cannot run socat: ${e.message}`, { cause: e }));
      },
    );
  }).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) {
      closedByUs = true;
      terminate(child);
    }
  };
  const done = exited.then((e: Exit) => {
    clearTimeout(senderTimer);
    if (e.code === 0 && !closedByUs) return;
    const why = closedByUs ? (connected ? 'closed' : 'closed before a sender connected') : `${describeExit(e)}: ${socatErrors(err)}`;
    throw new AppError('PEER_FAILED', `the data channel on ${unix ? bind : `${bind}:${port}`} failed: ${why}`);
  });
  // The owner awaits `done` later; a failure before then must not count as unhandled.
  done.catch(() => undefined);
  return {
    port,
    done,
    get connected() {
      return connected;
    },
    expectSender: (ms) => {
      clearTimeout(senderTimer);
      senderTimer = setTimeout(() => {
        if (!connected) stop();
      }, ms);
      senderTimer.unref();
    },
    close: stop,
  };
}

/**
 * What a sender sends: a stream this process reads (and counts), or a writer that is given the
 * connection — or, with TLS, socat's stdin — to hand to a program that writes the data itself, so
 * no byte passes through this process (nor, on a Unix socket, through socat) and none is counted.
 * The writer must close this process's end of what it is given, and resolve once the program has
 * written everything (reject when it failed).
 */
export type ChannelSource = Readable | ((out: Writable) => Promise<void>);

/**
 * Sends `source` to a listening receiver at `host:port` (or at the Unix socket `host`, an
 * absolute path; `port` and `tls` unused then) and resolves with the byte count — null for a
 * writer's data, which nobody counted — once all was written and the connection closed. That
 * alone does not prove the receiver took it: with
 * TLS 1.3 a receiver checks the sender's certificate after the sender's handshake is over, so a
 * receiver that refused it may have read nothing — only the receiving end's own outcome
 * (ChannelListener.done) says the bytes arrived. `onConnected` is called once the connection is
 * made and, with TLS, this end's handshake is done (the receiver's certificate checked). With
 * `tls`, the receiver must show a certificate of the CA bearing `tls.peerName`. `idleSeconds`:
 * as listenChannel's. Rejects with the source's own error when the source fails (socat is
 * stopped), with PEER_FAILED when the channel fails (the source is destroyed then), WRONG_STATE
 * when socat is missing (a writer to a Unix socket needs no socat).
 */
export async function sendChannel(source: ChannelSource, host: string, port: number, tls: ChannelTls | null, options: { onConnected?: () => void; idleSeconds?: number } = {}): Promise<number | null> {
  const unix = isSocketPath(host);
  if (typeof source === 'function' && unix) return sendStraight(source, host, options.onConnected);
  const socat = requireSocat();
  const address = unix
    ? `UNIX-CONNECT:${host}`
    : tls
      ? `OPENSSL:${host}:${port},${tlsOptions(tls)},connect-timeout=${CONNECT_SECONDS},${KEEPALIVE}`
      : `TCP:${host}:${port},connect-timeout=${CONNECT_SECONDS},${KEEPALIVE}`;
  // -d -d: socat says when the connection (and its TLS handshake) is made, which is all this reads.
  const child: ChildProcess = spawn(socat, ['-d', '-d', '-b', String(BLOCK_BYTES), '-T', String(options.idleSeconds ?? CHANNEL_IDLE_SECONDS), '-u', 'STDIN', address], { stdio: ['pipe', 'ignore', 'pipe'] });
  const err = new TailBuffer();
  let connected = false;
  child.stderr?.on('data', (c: Buffer) => {
    err.push(c);
    if (!connected && /starting data transfer loop/.test(err.text())) {
      connected = true;
      options.onConnected?.();
    }
  });
  const exited = waitExit(child);
  let bytes = 0;
  let sourceFailed = false;
  const counted = typeof source !== 'function';
  if (counted) {
    source.on('data', (chunk: Buffer) => (bytes += chunk.length));
    source.once('error', () => (sourceFailed = true));
  }
  const channelFailed = (e: Exit | Error): AppError =>
    new AppError('PEER_FAILED', `the data channel to ${unix ? host : `${host}:${port}`} failed${counted ? ` after ${bytes} bytes` : ''}: ${e instanceof Error ? e.message : `${describeExit(e)}: ${socatErrors(err)}`}`);
  try {
    if (counted) await pipeline(source, child.stdin!);
    else {
      // The program writing into socat dies of SIGPIPE when socat fails: then socat's failure is the one to report.
      await source(child.stdin!).catch(async (e: unknown) => {
        const exit = await Promise.race([exited.catch((x: Error) => x), new Promise<null>((r) => setTimeout(() => r(null), 1000).unref())]);
        sourceFailed = exit === null || (!(exit instanceof Error) && exit.code === 0);
        throw e;
      });
    }
  } catch (e) {
    terminate(child);
    const exit = await exited.catch((x: Error) => x);
    if (sourceFailed) throw isAppError(e) ? e : new AppError('PEER_FAILED', `the data sent over the channel failed: ${(e as Error).message}`, { cause: e });
    throw channelFailed(exit);
  }
  const exit = await exited.catch((x: Error) => x);
  if (exit instanceof Error || exit.code !== 0) throw channelFailed(exit);
  return counted ? bytes : null;
}

/**
 * A writer's data to the Unix socket `path` with no process between: this process connects and
 * hands the connection to the writer (its program writes into it). Resolves with null (nothing
 * counted); PEER_FAILED when the socket cannot be reached, the writer's own error when it fails.
 */
async function sendStraight(write: (out: Writable) => Promise<void>, path: string, onConnected?: () => void): Promise<null> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ path });
    s.once('error', reject);
    s.once('connect', () => {
      s.off('error', reject);
      // Nothing is read from it here: the receiver never writes back.
      s.on('error', () => undefined);
      resolve(s);
    });
  }).catch((e: unknown) => {
    throw new AppError('PEER_FAILED', `the data channel to ${path} failed: ${(e as Error).message}`, { cause: e });
  });
  onConnected?.();
  await write(socket);
  return null;
}
