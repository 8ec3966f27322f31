import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, type Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateFiles } from '../../src/util/pki.js';
import { AppError } from '../../src/util/errors.js';
import { waitExit } from '../../src/util/proc.js';
import { channelUnusable, listenChannel, sendChannel, type ChannelTls } from '../../src/util/tls-channel.js';
import { channelCertificates } from '../helpers/channel.js';

/** A reader of the channel: `sha256sum` in a child, whose stdin the listener takes; resolves with the digest and byte count it saw. */
function digestChild(): { stdin: NonNullable<ReturnType<typeof spawn>['stdin']>; result: Promise<{ hex: string; code: number | null }> } {
  const child = spawn('sha256sum', ['-b'], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const result = waitExit(child).then((e) => ({ hex: out.split(' ')[0] ?? '', code: e.code }));
  return { stdin: child.stdin, result };
}

/** `n` random bytes as a stream of 1 MiB chunks, and their digest. */
function randomSource(n: number): { stream: Readable; hex: string } {
  const chunks: Buffer[] = [];
  for (let left = n; left > 0; left -= 1 << 20) chunks.push(randomBytes(Math.min(left, 1 << 20)));
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return { stream: Readable.from(chunks), hex: h.digest('hex') };
}

describe('a data channel between two agents (socat, mutual TLS)', () => {
  let dir: string;
  let alpha: CertificateFiles;
  let beta: CertificateFiles;
  let gamma: CertificateFiles;
  const tls = (me: CertificateFiles, peerName: string): ChannelTls => ({ cert: me.cert, key: me.key, ca: me.ca, peerName });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cps-channel-'));
    // gamma holds a certificate of the same CA, but is not the node the bytes are for.
    ({ 'node-alpha': alpha, 'node-beta': beta, 'node-gamma': gamma } = await channelCertificates(dir, 'channel-test', ['node-alpha', 'node-beta', 'node-gamma']));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('carries every byte, in order, to the program reading the listener, and the sender counts them', async () => {
    const sink = digestChild();
    const listener = await listenChannel('127.0.0.1', tls(alpha, 'node-beta'), sink.stdin);
    expect(listener.port).toBeGreaterThan(0);
    const src = randomSource(24 * 1024 * 1024 + 17);
    const bytes = await sendChannel(src.stream, '127.0.0.1', listener.port, tls(beta, 'node-alpha'));
    await listener.done;
    expect(bytes).toBe(24 * 1024 * 1024 + 17);
    expect(await sink.result).toEqual({ hex: src.hex, code: 0 });
  });

  it('works without TLS too (an agent run without certificates)', async () => {
    const sink = digestChild();
    const listener = await listenChannel('127.0.0.1', null, sink.stdin);
    const src = randomSource(3 * 1024 * 1024);
    expect(await sendChannel(src.stream, '127.0.0.1', listener.port, null)).toBe(3 * 1024 * 1024);
    await listener.done;
    expect((await sink.result).hex).toBe(src.hex);
  });

  it('between two agents of one host, over a Unix socket only this OS user may open (mode 0600), no TLS', async () => {
    const sink = digestChild();
    const path = join(dir, 'same-host.sock');
    const listener = await listenChannel(path, null, sink.stdin);
    expect(listener.port).toBe(0);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const src = randomSource(5 * 1024 * 1024 + 3);
    expect(await sendChannel(src.stream, path, 0, null)).toBe(5 * 1024 * 1024 + 3);
    await listener.done;
    expect((await sink.result).hex).toBe(src.hex);
    // socat removes the socket when it is done.
    expect(existsSync(path)).toBe(false);
  });

  /** A writer as the donor's copy is one: a program (`cat file`, or `sh -c` for a failing one) given the connection as its stdout. */
  const programWriter =
    (cmd: string, args: string[]) =>
    async (out: Writable): Promise<void> => {
      const child = spawn(cmd, args, { stdio: ['ignore', out, 'ignore'] });
      out.destroy();
      const exit = await waitExit(child);
      if (exit.code !== 0) throw new AppError('ENGINE_FAILED', `${cmd} exited with ${exit.code ?? exit.signal}`);
    };

  it('a writer program writes straight into the connection (a Unix socket, no socat sending) or into socat (TLS): every byte arrives, uncounted', async () => {
    const file = join(dir, 'payload.bin');
    const data = randomBytes(6 * 1024 * 1024 + 5);
    writeFileSync(file, data);
    const hex = createHash('sha256').update(data).digest('hex');
    for (const over of ['socket', 'tls'] as const) {
      const sink = digestChild();
      const path = join(dir, 'straight.sock');
      const listener = over === 'socket' ? await listenChannel(path, null, sink.stdin) : await listenChannel('127.0.0.1', tls(alpha, 'node-beta'), sink.stdin);
      let connected = false;
      const sent = await sendChannel(programWriter('cat', [file]), over === 'socket' ? path : '127.0.0.1', listener.port, over === 'socket' ? null : tls(beta, 'node-alpha'), { onConnected: () => (connected = true) });
      await listener.done;
      expect(sent).toBeNull();
      expect(connected).toBe(true);
      expect(await sink.result).toEqual({ hex, code: 0 });
    }
  });

  it("a writer program that fails fails the send with its own error; one whose listener is gone gets the channel's error", async () => {
    const sink = digestChild();
    const listener = await listenChannel('127.0.0.1', tls(alpha, 'node-beta'), sink.stdin);
    const failing = sendChannel(programWriter('sh', ['-c', 'head -c 100000 /dev/zero; exit 3']), '127.0.0.1', listener.port, tls(beta, 'node-alpha'));
    await expect(failing).rejects.toMatchObject({ code: 'ENGINE_FAILED', message: expect.stringContaining('exited with 3') });
    listener.close();
    await listener.done.catch(() => undefined);
    await sink.result;
    const gone = join(dir, 'nobody.sock');
    await expect(sendChannel(programWriter('cat', ['/dev/zero']), gone, 0, null)).rejects.toMatchObject({ code: 'PEER_FAILED', message: expect.stringContaining(gone) });
  });

  it('refuses a sender whose certificate bears another name: the listener fails and nothing reaches its reader', async () => {
    const sink = digestChild();
    const listener = await listenChannel('127.0.0.1', tls(alpha, 'node-beta'), sink.stdin);
    // With TLS 1.3 the sender's handshake is over before the listener checks its certificate, so
    // a small send may end "well" on the sender's side: only the receiving end can say the bytes arrived.
    const send = sendChannel(randomSource(1024 * 1024).stream, '127.0.0.1', listener.port, tls(gamma, 'node-alpha')).catch((e: unknown) => e);
    await expect(listener.done).rejects.toThrow(/commonName does not match/);
    await send;
    // Nothing reached the reader.
    expect((await sink.result).hex).toBe(createHash('sha256').digest('hex'));
  });

  it('the sender refuses a listener whose certificate bears another name: the bytes never leave', async () => {
    const sink = digestChild();
    // gamma listens, as if it had taken the address the donor was told to send to.
    const listener = await listenChannel('127.0.0.1', tls(gamma, 'node-beta'), sink.stdin);
    await expect(sendChannel(randomSource(1024 * 1024).stream, '127.0.0.1', listener.port, tls(beta, 'node-alpha'))).rejects.toThrow(/PEER_FAILED|commonName|failed/);
    await listener.done.catch(() => undefined);
    expect((await sink.result).hex).toBe(createHash('sha256').digest('hex'));
  });

  it('a source that fails mid-way fails the send with its own error, and the listener does not end cleanly with a whole copy', async () => {
    const sink = digestChild();
    const listener = await listenChannel('127.0.0.1', tls(alpha, 'node-beta'), sink.stdin);
    // Bounded even if the sender never connects (a loaded machine): done then settles.
    listener.expectSender(15_000);
    const source = new PassThrough();
    // Mid-way: the source fails once the connection is made (not after a fixed delay, which a
    // loaded machine may spend in the TLS handshake — the listener then waited forever).
    const send = sendChannel(source, '127.0.0.1', listener.port, tls(beta, 'node-alpha'), {
      onConnected: () => setTimeout(() => source.destroy(new AppError('ENGINE_FAILED', 'mariadb-backup exited with code 1')), 50),
    });
    source.write(randomBytes(2 * 1024 * 1024));
    await expect(send).rejects.toMatchObject({ code: 'ENGINE_FAILED' });
    await listener.done.catch(() => undefined);
    await sink.result;
  });

  it('a listener nobody connects to is closed by expectSender, and done says so', async () => {
    const sink = digestChild();
    const listener = await listenChannel('127.0.0.1', tls(alpha, 'node-beta'), sink.stdin);
    listener.expectSender(200);
    await expect(listener.done).rejects.toThrow(/closed before a sender connected/);
    expect((await sink.result).code).toBe(0);
  });

  it('a sender to a port nobody listens on fails with PEER_FAILED and destroys its source', async () => {
    const probe = await listenChannel('127.0.0.1', null, digestChild().stdin);
    probe.close();
    await probe.done.catch(() => undefined);
    const source = new PassThrough();
    await expect(sendChannel(source, '127.0.0.1', probe.port, null)).rejects.toMatchObject({ code: 'PEER_FAILED' });
    expect(source.destroyed).toBe(true);
  });

  it('cannot listen on an address of another host: PEER_FAILED naming it', async () => {
    // 192.0.2.1 (TEST-NET-1) is never this host's: the bind fails before any packet is sent.
    await expect(listenChannel('192.0.2.1', null, digestChild().stdin)).rejects.toThrow(/192\.0\.2\.1/);
  });

  it('says when a value would need quoting in socat addresses, so the caller uses HTTPS', () => {
    expect(channelUnusable('127.0.0.1', tls(alpha, 'node-beta'))).toBeNull();
    expect(channelUnusable('::1', null)).toMatch(/::1/);
    expect(channelUnusable(`/tmp/${'x'.repeat(110)}.sock`, null)).toMatch(/longer than 107 bytes/);
    expect(channelUnusable('127.0.0.1', { ...tls(alpha, 'node-beta'), key: '/tmp/a,b/agent.key' })).toMatch(/a,b/);
    expect(channelUnusable('127.0.0.1', { ...tls(alpha, 'node-beta'), peerName: 'cps-mysql CA x' })).toMatch(/CA x/);
  });
});
