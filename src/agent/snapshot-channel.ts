import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { AppError, isAppError } from '../util/errors.js';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { listenChannel, type ChannelTls } from '../util/tls-channel.js';
import { acceptOne } from '../util/unix-channel.js';
import type { ConnectionInput } from '../engine/engine.js';

/** `details.channel` of the error a donor answers send_snapshot with when it cannot open a data channel: the receiver falls back to stream_snapshot. */
export const NO_CHANNEL = 'unavailable';

/** How long (ms) a donor's sends are remembered after they ended, for the receiver's `snapshot_sent`. */
const KEEP_ENDED_MS = 10 * 60_000;

/** How long (ms) a receiver waits for the donor's sender to connect once send_snapshot answered (the sender tries for 10 s). */
export const SENDER_CONNECT_MS = 15_000;

/** How long (s) a receiver waits in snapshot_sent for the donor to account for a send whose bytes all arrived. */
export const SENT_WAIT_SECONDS = 30;

interface Send {
  peer: string | null;
  /** Bytes sent, once the send ended well; null when the copy's program wrote them into the connection itself (uncounted). */
  bytes: Promise<number | null>;
  endedAt: number | null;
}

/**
 * A donor's data-channel sends, by id (random, 16 bytes base64url): each belongs to the peer
 * that started it, and is remembered until that peer asks how it ended, or 10 minutes after
 * it ended.
 */
export class ChannelSends {
  private readonly sends = new Map<string, Send>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts `run` (the send) for `peer` and returns its id. */
  start(peer: string | null, run: () => Promise<number | null>): string {
    this.forgetOld();
    const id = randomBytes(16).toString('base64url');
    const send: Send = { peer, bytes: run(), endedAt: null };
    const ended = (): void => void (send.endedAt = this.now());
    send.bytes.then(ended, ended);
    this.sends.set(id, send);
    return id;
  }

  /**
   * The byte count of `peer`'s send `id` (null: not counted), waiting up to `timeoutMs` for it to end; the send's
   * own error when it failed. NOT_FOUND for another peer's id or one forgotten, TIMEOUT when it
   * is still under way. An answered send is forgotten.
   */
  async result(id: string, peer: string | null, timeoutMs: number): Promise<number | null> {
    const send = this.sends.get(id);
    if (send === undefined || send.peer !== peer) throw new AppError('NOT_FOUND', `no snapshot send ${id} of this caller is known here`);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AppError('TIMEOUT', `the snapshot send ${id} did not end within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const bytes = await Promise.race([send.bytes, late]);
      this.sends.delete(id);
      return bytes;
    } catch (e) {
      if (!(isAppError(e) && e.code === 'TIMEOUT' && send.endedAt === null)) this.sends.delete(id);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** How many sends are remembered (under way or ended and not yet asked for). */
  get size(): number {
    return this.sends.size;
  }

  private forgetOld(): void {
    const now = this.now();
    for (const [id, s] of this.sends) if (s.endedAt !== null && now - s.endedAt > KEEP_ENDED_MS) this.sends.delete(id);
  }
}

/** What a receiver needs to take a snapshot over a data channel. */
export interface ChannelReceive {
  /** Where this node listens: its address (channelFeed), or an absolute path, a Unix socket for a donor on this host (socketInput). */
  bind: string;
  /** This node's certificate paths and the donor's certificate name; null without TLS. */
  tls: ChannelTls | null;
  /** Asks the donor to send to `port` (0 for a socket) (send_snapshot, waiting while it is busy); resolves with the send's id. */
  ask: (port: number) => Promise<string>;
  /** The donor's account of the send `id` (snapshot_sent): its byte count, null when it did not count them. */
  sent: (id: string) => Promise<number | null>;
  /** How long (ms) the donor's sender may take to connect; SENDER_CONNECT_MS when absent. */
  senderConnectMs?: number;
}

/** The error of a channel no sender reached: `details.channel` = NO_CHANNEL, so the receiver takes HTTPS instead. */
function neverReached(where: string, cause: unknown): AppError {
  return new AppError('PEER_FAILED', `the donor's sender never reached this node's data channel on ${where}`, { cause, details: { channel: NO_CHANNEL } });
}

/** The donor's account of send `id`, asked again after each TIMEOUT (still sending) while `waiting()` holds. */
async function followAccount(r: ChannelReceive, id: string, waiting: () => boolean = () => true): Promise<number | null> {
  for (;;) {
    try {
      return await r.sent(id);
    } catch (e) {
      if (!(isAppError(e) && e.code === 'TIMEOUT' && waiting())) throw e;
    }
  }
}

/**
 * A restore's input (engine SnapshotInput) taken over a data channel: listens, hands mbstream's
 * stdin to the listener, asks the donor to send, and resolves with the donor's byte count once
 * the channel ended well and the donor says its copy ended well. The byte count is the donor's:
 * on this end the bytes go from socat to mbstream without passing through this process.
 * The donor's account is followed while the bytes flow (`sent`, again after each TIMEOUT): a
 * send that fails on the donor's side — its copy failing, its sender refused or unable to
 * connect — ends the listener at once, so nothing that connects and then stalls (before or in
 * the TLS handshake, where socat has no timeout) can hold the receiver.
 * When the donor's sender never reached the listener (a firewall between the hosts, a donor
 * that cannot connect), the error carries `details.channel` = NO_CHANNEL: the receiver then
 * takes the snapshot over HTTPS (the donor's grant is used up only by a sender that connected).
 */
export function channelFeed(r: ChannelReceive): (stdin: Writable) => Promise<number | null> {
  return async (stdin) => {
    const listener = await listenChannel(r.bind, r.tls, stdin);
    const where = `${r.bind}:${listener.port}`;
    let listening = true;
    try {
      const id = await r.ask(listener.port);
      listener.expectSender(r.senderConnectMs ?? SENDER_CONNECT_MS);
      // The donor's account, asked until it has one or the listener ended badly.
      const donor = followAccount(r, id, () => listening);
      const failed = donor.then(
        () => new Promise<never>(() => undefined),
        (e: unknown) => {
          listener.close();
          throw listener.connected ? e : neverReached(where, e);
        },
      );
      try {
        await Promise.race([listener.done, failed]);
      } catch (e) {
        if (isAppError(e) && e.details?.['channel'] === NO_CHANNEL) throw e;
        if (!listener.connected) throw neverReached(where, e);
        throw e;
      }
      // Every byte is in mbstream; the donor must also say it sent the whole copy.
      return await donor;
    } finally {
      listening = false;
      listener.close();
    }
  };
}

/**
 * A restore's input (engine ConnectionInput) over a same-host data channel with nothing between
 * the two programs: listens on the Unix socket `r.bind` (acceptOne), asks the donor to send there
 * (its `mariadb-backup` writes into the connection itself, or its socat for a group), and hands the
 * connection to `mbstream` as its stdin. The donor's account (`sent`, asked again after each
 * TIMEOUT) is followed from the moment it started: a send that fails before it connected ends
 * the wait at once with `details.channel` = NO_CHANNEL (the receiver then takes HTTPS), as does a
 * sender that never connects within `senderConnectMs`; one that fails later fails `settle`, and
 * the restore stops `mbstream`.
 */
export function socketInput(r: ChannelReceive): ConnectionInput {
  // The donor's account, known once it answered send_snapshot — which may be after its sender
  // has already connected (it starts sending before it answers).
  let account: (p: Promise<number | null>) => void = () => undefined;
  const donor = new Promise<number | null>((resolve, reject) => (account = (p) => p.then(resolve, reject)));
  donor.catch(() => undefined);
  return {
    kind: 'connection',
    accept: async () => {
      await mkdir(dirname(r.bind), { recursive: true, mode: 0o700 });
      let asked = false;
      try {
        return await acceptOne(r.bind, r.senderConnectMs ?? SENDER_CONNECT_MS, async () => {
          try {
            const id = await r.ask(0);
            asked = true;
            account(followAccount(r, id));
          } catch (e) {
            account(Promise.reject(e));
            throw e;
          }
          return { watch: donor };
        });
      } catch (e) {
        // The donor's refusal to send (busy, cannot open a channel) is its own answer; anything after it asked means no channel was made.
        throw asked ? neverReached(r.bind, e) : e;
      }
    },
    settle: () => donor,
  };
}
