/**
 * Reads MariaDB's xbstream format as it passes (the stream `mariadb-backup --stream=xbstream`
 * writes and `mbstream -x` extracts), keeping the contents of a few small files by name, without
 * holding the stream. The format (MariaDB's extra/mariabackup/xbstream*.cc): chunks of
 * `XBSTCK01`, 1 byte of flags, 1 byte of type (`P` payload, `E` end of file), the path's length
 * (4 bytes, little-endian) and the path; a payload chunk then has the payload's length (8 bytes),
 * its offset in the file (8 bytes), a CRC-32 (4 bytes) and the payload.
 */
export class XbstreamCatcher {
  /** The wanted files, complete (their `E` chunk seen), by path. */
  readonly files = new Map<string, Buffer>();
  /** Why the stream is not xbstream, or null while it reads as one. */
  error: string | null = null;
  private readonly partial = new Map<string, Buffer[]>();

  /**
   * @param wanted the paths whose contents to keep
   * @param maxBytes the most kept of one file (a wanted file past it is an error): the files
   *   looked for are a few hundred bytes
   */
  constructor(
    private readonly wanted: ReadonlySet<string>,
    private readonly maxBytes = 64 * 1024,
  ) {}

  /** Reads the next bytes of the stream. Never throws: a malformed stream sets `error`. */
  push(chunk: Buffer): void {
    let rest = chunk;
    while (rest.length > 0 && this.error === null) {
      if (this.skip > 0) {
        // Inside a payload: kept when its file is wanted, passed over otherwise (never buffered).
        const take = Math.min(this.skip, rest.length);
        if (this.into !== null) this.keep(this.into, rest.subarray(0, take));
        this.skip -= take;
        rest = rest.subarray(take);
        continue;
      }
      this.head = this.head.length === 0 ? rest : Buffer.concat([this.head, rest]);
      rest = Buffer.alloc(0);
      const used = this.header(this.head);
      if (used === 0) return;
      rest = this.head.subarray(used);
      this.head = Buffer.alloc(0);
    }
  }

  /** True once the stream ended cleanly: no half chunk left over. */
  get complete(): boolean {
    return this.error === null && this.head.length === 0 && this.skip === 0;
  }

  private head: Buffer = Buffer.alloc(0);
  /** Payload bytes still to come of the chunk under way. */
  private skip = 0;
  /** The wanted file the payload under way belongs to, or null. */
  private into: string | null = null;

  private keep(path: string, bytes: Buffer): void {
    const parts = this.partial.get(path) ?? [];
    parts.push(Buffer.from(bytes));
    if (parts.reduce((n, p) => n + p.length, 0) > this.maxBytes) this.error = `${path} in the xbstream is over ${this.maxBytes} bytes`;
    this.partial.set(path, parts);
  }

  /** Reads the chunk header at the start of `b`; answers its length, or 0 when it is not all there yet. */
  private header(b: Buffer): number {
    const HEAD = 14;
    if (b.length < HEAD) return 0;
    if (b.toString('latin1', 0, 8) !== 'XBSTCK01') {
      this.error = 'not an xbstream (no chunk magic where a chunk begins)';
      return 0;
    }
    const type = String.fromCharCode(b[9]!);
    const pathLength = b.readUInt32LE(10);
    if (pathLength > 4096) {
      this.error = `an xbstream chunk names a path of ${pathLength} bytes`;
      return 0;
    }
    if (b.length < HEAD + pathLength) return 0;
    const path = b.toString('utf8', HEAD, HEAD + pathLength);
    if (type === 'E') {
      const parts = this.partial.get(path);
      if (parts) {
        this.files.set(path, Buffer.concat(parts));
        this.partial.delete(path);
      } else if (this.wanted.has(path)) {
        this.files.set(path, Buffer.alloc(0));
      }
      return HEAD + pathLength;
    }
    if (type !== 'P') {
      this.error = `an xbstream chunk of type ${JSON.stringify(type)}, which this reader does not know`;
      return 0;
    }
    const at = HEAD + pathLength;
    if (b.length < at + 20) return 0;
    const payload = Number(b.readBigUInt64LE(at));
    if (!Number.isSafeInteger(payload)) {
      this.error = 'an xbstream chunk with an impossible payload length';
      return 0;
    }
    this.skip = payload;
    this.into = this.wanted.has(path) ? path : null;
    return at + 20;
  }
}
