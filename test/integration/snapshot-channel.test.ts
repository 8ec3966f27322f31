import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { chmod, chown, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelFeed, ChannelSends, NO_CHANNEL, socketInput } from '../../src/agent/snapshot-channel.js';
import { notOwnSocket } from '../../src/agent/snapshot-handlers.js';
import { AppError } from '../../src/util/errors.js';
import type { CertificateFiles } from '../../src/util/pki.js';
import { sendChannel } from '../../src/util/tls-channel.js';
import { waitExit } from '../../src/util/proc.js';
import { byteCounter, channelCertificates } from '../helpers/channel.js';

describe("a receiver's data channel (channelFeed) and a donor's sends (ChannelSends)", () => {
  let dir: string;
  let receiver: CertificateFiles;
  let donor: CertificateFiles;
  let stranger: CertificateFiles;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cps-channel-feed-'));
    const certs = await channelCertificates(dir, 'feed-test', ['node-new', 'node-donor', 'node-other']);
    receiver = certs['node-new'];
    donor = certs['node-donor'];
    stranger = certs['node-other'];
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("takes the donor's bytes into the program and answers the donor's count", async () => {
    const sends = new ChannelSends();
    const sink = byteCounter();
    const feed = channelFeed({
      bind: '127.0.0.1',
      tls: { ...receiver, peerName: 'node-donor' },
      ask: async (port) => sends.start('node-new', () => sendChannel(Readable.from([Buffer.alloc(5_000_000, 7)]), '127.0.0.1', port, { ...donor, peerName: 'node-new' })),
      sent: (id) => sends.result(id, 'node-new', 10_000),
    });
    expect(await feed(sink.stdin)).toBe(5_000_000);
    expect(await sink.count).toBe(5_000_000);
    expect(sends.size).toBe(0);
  });

  it('a sender that never connects (a firewall between the hosts) is told apart: the error says no channel could be made', async () => {
    const sink = byteCounter();
    const feed = channelFeed({ bind: '127.0.0.1', tls: { ...receiver, peerName: 'node-donor' }, ask: async () => 'never-connects', sent: async () => 0, senderConnectMs: 300 });
    const err = await feed(sink.stdin).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'PEER_FAILED', details: { channel: NO_CHANNEL } });
    expect(await sink.count).toBe(0);
  });

  it('a sender that connects with the wrong certificate fails the copy, without the no-channel mark (no silent fallback)', async () => {
    const sink = byteCounter();
    const feed = channelFeed({
      bind: '127.0.0.1',
      tls: { ...receiver, peerName: 'node-donor' },
      ask: async (port) => {
        void sendChannel(Readable.from([Buffer.alloc(1000)]), '127.0.0.1', port, { ...stranger, peerName: 'node-new' }).catch(() => undefined);
        return 'x';
      },
      sent: async () => 1000,
    });
    const err = await feed(sink.stdin).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PEER_FAILED' });
    expect((err as AppError).details?.['channel']).toBeUndefined();
    expect(await sink.count).toBe(0);
  });

  it("something that connects and stalls in the TLS handshake cannot hold the receiver: the donor's failed send ends it", async () => {
    const sink = byteCounter();
    let squatter: Socket | undefined;
    const feed = channelFeed({
      bind: '127.0.0.1',
      tls: { ...receiver, peerName: 'node-donor' },
      ask: async (port) => {
        // Connects first and sends nothing: socat waits in its handshake, with no timeout of its own.
        squatter = connect(port, '127.0.0.1');
        await new Promise((ok) => squatter!.once('connect', ok));
        return 'stalled';
      },
      // The donor's own sender was refused (the listener took the squatter): its account says so.
      sent: async () => {
        await new Promise((ok) => setTimeout(ok, 200));
        throw new AppError('PEER_FAILED', 'the data channel to 127.0.0.1 failed after 0 bytes: connection refused');
      },
    });
    try {
      await expect(feed(sink.stdin)).rejects.toThrow(/connection refused/);
    } finally {
      squatter?.destroy();
    }
    expect(await sink.count).toBe(0);
  });

  it("while the copy runs, the receiver keeps asking the donor (a TIMEOUT means: still sending)", async () => {
    const sends = new ChannelSends();
    const sink = byteCounter();
    let asked = 0;
    const feed = channelFeed({
      bind: '127.0.0.1',
      tls: null,
      ask: async (port) =>
        sends.start('node-new', async () => {
          // A slow copy: the first answers time out.
          await new Promise((ok) => setTimeout(ok, 250));
          return sendChannel(Readable.from([Buffer.alloc(300_000, 1)]), '127.0.0.1', port, null);
        }),
      sent: (id) => {
        asked++;
        return sends.result(id, 'node-new', 100);
      },
    });
    expect(await feed(sink.stdin)).toBe(300_000);
    expect(await sink.count).toBe(300_000);
    expect(asked).toBeGreaterThan(1);
  });

  /** A socketInput's connection handed to `wc -c` as its stdin, as extractSnapshot hands it to mbstream. */
  const countConnection = async (input: ReturnType<typeof socketInput>): Promise<{ count: Promise<number> }> => {
    const conn = await input.accept();
    const child = spawn('wc', ['-c'], { stdio: [conn, 'pipe', 'ignore'] });
    conn.destroy();
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    return { count: waitExit(child).then(() => Number(out.trim())) };
  };

  it('on a same-host socket the program reads the connection itself: every byte, even when the donor connects before it answers; the socket 0600 while it waits and gone after', async () => {
    const sends = new ChannelSends();
    const path = join(dir, 'straight', 'in.sock');
    let modeSeen = 0;
    const input = socketInput({
      bind: path,
      tls: null,
      ask: async () => {
        modeSeen = statSync(path).mode & 0o777;
        const id = sends.start('node-new', () => sendChannel(Readable.from([Buffer.alloc(3_000_000, 5)]), path, 0, null));
        // A donor starts sending before it answers: the connection may come before the send's id.
        await new Promise((r) => setTimeout(r, 300));
        return id;
      },
      sent: (id) => sends.result(id, 'node-new', 10_000),
    });
    const { count } = await countConnection(input);
    expect(await input.settle()).toBe(3_000_000);
    expect(await count).toBe(3_000_000);
    expect(modeSeen).toBe(0o600);
    expect(existsSync(path)).toBe(false);
  });

  it('on a same-host socket: a sender that never connects, or a send that fails before it connects, means no channel (at once, not after the wait)', async () => {
    const path = join(dir, 'straight', 'none.sock');
    const never = socketInput({ bind: path, tls: null, ask: async () => 'never-connects', sent: () => new Promise(() => undefined), senderConnectMs: 300 });
    await expect(never.accept()).rejects.toMatchObject({ code: 'PEER_FAILED', details: { channel: NO_CHANNEL } });
    const started = Date.now();
    const refused = socketInput({
      bind: path,
      tls: null,
      ask: async () => 'refused',
      sent: async () => {
        throw new AppError('PEER_FAILED', 'the donor could not reach the socket');
      },
      senderConnectMs: 20_000,
    });
    await expect(refused.accept()).rejects.toMatchObject({ code: 'PEER_FAILED', details: { channel: NO_CHANNEL } });
    expect(Date.now() - started).toBeLessThan(10_000);
    // The donor's own refusal to send is passed on as it is (the receiver's fallback reads its mark).
    const busy = socketInput({ bind: path, tls: null, ask: async () => Promise.reject(new AppError('WRONG_STATE', 'no channel here', { details: { channel: NO_CHANNEL } })), sent: async () => 0 });
    await expect(busy.accept()).rejects.toMatchObject({ code: 'WRONG_STATE' });
    expect(existsSync(path)).toBe(false);
  });

  it('on a same-host socket the wait for the sender starts once the donor answered: a donor busy for longer is waited for', async () => {
    const sends = new ChannelSends();
    const path = join(dir, 'straight', 'busy.sock');
    const input = socketInput({
      bind: path,
      tls: null,
      ask: async () => {
        // Busy with another copy (send_snapshot answered BUSY and was asked again) for longer than the connect wait.
        await new Promise((r) => setTimeout(r, 600));
        return sends.start('node-new', () => sendChannel(Readable.from([Buffer.alloc(1_000_000, 9)]), path, 0, null));
      },
      sent: (id) => sends.result(id, 'node-new', 10_000),
      senderConnectMs: 300,
    });
    const { count } = await countConnection(input);
    expect(await input.settle()).toBe(1_000_000);
    expect(await count).toBe(1_000_000);
  });

  it("on a same-host socket a send that fails after it connected fails settle with the donor's error", async () => {
    const path = join(dir, 'straight', 'fails.sock');
    let fail: (e: Error) => void = () => undefined;
    const input = socketInput({
      bind: path,
      tls: null,
      ask: async () => {
        const c = connect({ path });
        c.on('error', () => undefined);
        c.write(Buffer.alloc(1000, 1));
        return 'failing';
      },
      sent: () => new Promise((_, reject) => (fail = reject)),
    });
    const conn = await input.accept();
    conn.destroy();
    fail(new AppError('ENGINE_FAILED', 'mariadb-backup was killed by SIGKILL'));
    await expect(input.settle()).rejects.toMatchObject({ code: 'ENGINE_FAILED' });
  });

  it("the donor's account: only the peer that started a send learns its end; its error is passed on; a send under way times out; an answered one is forgotten", async () => {
    const sends = new ChannelSends();
    let finish!: (n: number) => void;
    const id = sends.start('node-a', () => new Promise<number>((ok) => (finish = ok)));
    await expect(sends.result(id, 'node-b', 10)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(sends.result(id, 'node-a', 10)).rejects.toMatchObject({ code: 'TIMEOUT' });
    finish(42);
    expect(await sends.result(id, 'node-a', 10)).toBe(42);
    await expect(sends.result(id, 'node-a', 10)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const bad = sends.start('node-a', async () => {
      throw new AppError('ENGINE_FAILED', 'mariadb-backup exited with code 1');
    });
    await expect(sends.result(bad, 'node-a', 1000)).rejects.toMatchObject({ code: 'ENGINE_FAILED' });
  });

  it("a donor sends to a same-host socket only if it is its own OS user's and closed to others", async () => {
    const path = join(dir, 'own.sock');
    const server = createServer();
    await new Promise<void>((ok) => server.listen(path, ok));
    try {
      await chmod(path, 0o600);
      expect(notOwnSocket(path)).toBeNull();
      await chmod(path, 0o666);
      expect(notOwnSocket(path)).toMatch(/open to other users \(mode 666\)/);
      await chmod(path, 0o600);
      await chown(path, 65534, 65534);
      expect(notOwnSocket(path)).toMatch(/belongs to another OS user/);
    } finally {
      await new Promise<void>((ok) => server.close(() => ok()));
    }
    expect(notOwnSocket(receiver.cert)).toMatch(/is not a socket/);
    expect(notOwnSocket(join(dir, 'absent.sock'))).toMatch(/no socket/);
  });

  it('forgets ended sends nobody asked about after 10 minutes', async () => {
    let now = 0;
    const sends = new ChannelSends(() => now);
    sends.start('node-a', async () => 1);
    await new Promise((r) => setImmediate(r));
    expect(sends.size).toBe(1);
    now = 11 * 60_000;
    sends.start('node-a', () => new Promise<number>(() => undefined));
    expect(sends.size).toBe(1);
  });
});
