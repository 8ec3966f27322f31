import { PassThrough, type Readable } from 'node:stream';
import { AppError } from '../util/errors.js';

/** Several new nodes asking for one snapshot together (issue #17): the same `key`, `receivers` of them. */
export interface ShareRequest {
  /** Names the group; the manager draws one per provisioning attempt. */
  key: string;
  /** How many receivers the group has (1..64). */
  receivers: number;
}

/** The limits of a shared snapshot. */
export interface ShareLimits {
  /** How long (ms) the first receiver waits for the rest of its group before the copy starts without them. */
  joinWaitMs: number;
  /** Bytes each receiver may fall behind the copy before the copy waits for it. */
  bufferBytes: number;
  /** How long (ms) the copy waits for receivers whose buffers are full while another receiver is ready; then they are cut off (retried alone). */
  stallMs: number;
}

/** The defaults: a group forms within 5 s; a receiver 16 MiB behind holds the others at most 5 s. */
export const DEFAULT_SHARE_LIMITS: ShareLimits = { joinWaitMs: 5_000, bufferBytes: 16 * 1024 * 1024, stallMs: 5_000 };

/** What a share tells its owner (for its log). */
export interface ShareEvents {
  /** A copy started for `receivers` of the `expected` receivers of its group. */
  started?: (receivers: number, expected: number) => void;
  /** A receiver was cut off, and why. */
  cut?: (reason: string) => void;
}

interface Session {
  key: string | null;
  expected: number;
  incrementalLsn: number | undefined;
  outs: Set<PassThrough>;
  /** Receivers whose buffers are full: the copy waits for them. */
  blocked: Set<PassThrough>;
  started: boolean;
  sourceClosed: boolean;
  joinTimer?: NodeJS.Timeout;
  stallTimer?: NodeJS.Timeout;
  source?: Readable;
}

/**
 * One snapshot at a time on a node, read once and fanned out to every receiver of its group.
 * `open` starts the copy (`mariadb-backup --backup --stream`); it runs when the group is complete
 * or `joinWaitMs` after its first receiver came. Each receiver gets its own stream with a buffer
 * of `bufferBytes`: the copy goes at the pace of the slowest only while every receiver is slow;
 * a receiver whose buffer stays full for `stallMs` while another is ready is cut off
 * (PEER_FAILED) and must ask again, alone. A receiver that goes away is dropped; when none is
 * left the copy is stopped (destroying the source kills it). A copy that fails fails every
 * receiver with its error.
 */
export class SnapshotShare {
  private session: Session | null = null;

  constructor(
    private readonly open: (incrementalLsn?: number) => Readable,
    private readonly limits: ShareLimits = DEFAULT_SHARE_LIMITS,
    private readonly events: ShareEvents = {},
  ) {}

  /** True while a snapshot is being gathered or streamed. */
  get busy(): boolean {
    return this.session !== null;
  }

  /**
   * This receiver's stream of the snapshot. Without `share` the receiver is alone. Throws BUSY
   * when another snapshot (another group, or a group already streaming) holds the node.
   */
  join(share?: ShareRequest, incrementalLsn?: number): Readable {
    const s = this.session;
    if (s !== null) {
      const joinable = share !== undefined && s.key === share.key && !s.started && s.outs.size < s.expected && s.incrementalLsn === incrementalLsn;
      if (!joinable) throw new AppError('BUSY', 'stream_snapshot: this node is streaming another snapshot; try again when it ends');
      const out = this.addReceiver(s);
      if (s.outs.size >= s.expected) this.start(s);
      return out;
    }
    const session: Session = { key: share?.key ?? null, expected: share?.receivers ?? 1, incrementalLsn, outs: new Set(), blocked: new Set(), started: false, sourceClosed: false };
    this.session = session;
    const out = this.addReceiver(session);
    if (session.expected <= 1) this.start(session);
    else {
      session.joinTimer = setTimeout(() => this.start(session), this.limits.joinWaitMs);
      session.joinTimer.unref();
    }
    return out;
  }

  /**
   * Takes the node's one copy for a receiver that is sent the copy by other means than a stream
   * of this process (a program writing straight into its connection): until `release` is
   * called, every join is refused with BUSY. Throws BUSY when a copy holds the node already.
   */
  reserve(): { release: () => void } {
    if (this.session !== null) throw new AppError('BUSY', 'send_snapshot: this node is streaming another snapshot; try again when it ends');
    const held: Session = { key: null, expected: 1, incrementalLsn: undefined, outs: new Set(), blocked: new Set(), started: true, sourceClosed: false };
    this.session = held;
    return { release: () => this.finish(held) };
  }

  private addReceiver(s: Session): PassThrough {
    const out = new PassThrough({ highWaterMark: this.limits.bufferBytes });
    // The reader (the HTTP answer) takes the errors; none may reach the process before it attaches.
    out.on('error', () => undefined);
    s.outs.add(out);
    out.on('drain', () => {
      s.blocked.delete(out);
      this.maybeResume(s);
    });
    out.once('close', () => {
      s.outs.delete(out);
      s.blocked.delete(out);
      if (s.outs.size === 0) {
        if (!s.started) this.finish(s);
        else if (!s.sourceClosed) s.source?.destroy();
        else this.finish(s);
        return;
      }
      this.maybeResume(s);
    });
    return out;
  }

  private start(s: Session): void {
    if (s.started || this.session !== s) return;
    clearTimeout(s.joinTimer);
    s.started = true;
    if (s.outs.size === 0) return this.finish(s);
    let source: Readable;
    try {
      source = this.open(s.incrementalLsn);
    } catch (err) {
      // The copy could not start: every receiver hears why, and the node is free again.
      for (const out of s.outs) out.destroy(err as Error);
      return this.finish(s);
    }
    s.source = source;
    this.events.started?.(s.outs.size, s.expected);
    source.on('data', (chunk: Buffer) => {
      for (const out of s.outs) if (!out.destroyed && !out.write(chunk)) s.blocked.add(out);
      if (s.blocked.size > 0) {
        source.pause();
        this.armStall(s);
      }
    });
    source.once('end', () => {
      for (const out of s.outs) out.end();
    });
    source.once('error', (err) => {
      for (const out of s.outs) out.destroy(err);
    });
    source.once('close', () => {
      s.sourceClosed = true;
      clearTimeout(s.stallTimer);
      // Closed without end or error (destroyed): no receiver may take what it got for a whole copy.
      for (const out of s.outs) if (!out.writableEnded) out.destroy(new AppError('PEER_FAILED', 'the snapshot copy stopped before its end'));
      if (s.outs.size === 0) this.finish(s);
    });
  }

  /** The copy waits for full receivers; past `stallMs`, those still full while another is ready are cut off. */
  private armStall(s: Session): void {
    clearTimeout(s.stallTimer);
    s.stallTimer = setTimeout(() => {
      if (s.blocked.size === 0 || s.blocked.size >= s.outs.size) {
        // Everyone is slow (the machine is the limit): wait on, nobody is cut.
        if (s.blocked.size > 0) this.armStall(s);
        return;
      }
      for (const out of [...s.blocked]) {
        this.events.cut?.(`a receiver stayed ${this.limits.bufferBytes} bytes behind the others for ${this.limits.stallMs} ms`);
        out.destroy(new AppError('PEER_FAILED', `this receiver fell ${this.limits.bufferBytes} bytes behind the others for ${this.limits.stallMs} ms and was cut off; ask again alone`));
      }
    }, this.limits.stallMs);
    s.stallTimer.unref();
  }

  private maybeResume(s: Session): void {
    if (s.blocked.size > 0 || s.source === undefined || s.sourceClosed) return;
    clearTimeout(s.stallTimer);
    s.source.resume();
  }

  private finish(s: Session): void {
    clearTimeout(s.joinTimer);
    clearTimeout(s.stallTimer);
    if (this.session === s) this.session = null;
  }
}
