import { Transform, type TransformCallback } from 'node:stream';

/**
 * The first line mariadb-dump writes since 10.5.25/10.6.18/10.11.8 (`/*!999999\- enable the
 * sandbox mode *\/`, later `/*M!999999…`), which MySQL's and older MariaDB's clients refuse
 * ("Unknown command '\-'"); there is no option of mariadb-dump to leave it out
 * (https://mariadb.org/mariadb-dump-file-compatibility-change/).
 */
export const SANDBOX_LINE = /^\/\*M?!999999\\- enable the sandbox mode \*\/ ?\r?\n/;

/**
 * A stream that passes a dump through without its first line when that line is the sandbox
 * line (a dump for MySQL or an older MariaDB); anything else passes unchanged.
 */
export function withoutSandboxLine(): Transform {
  let head: Buffer | null = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      if (head === null) return done(null, chunk);
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(0x0a);
      // The line is short: decide as soon as it ended (or 200 bytes showed it is not that line).
      if (nl < 0 && head.length < 200) return done();
      const text = head.toString('latin1');
      const m = SANDBOX_LINE.exec(text);
      const rest = m ? head.subarray(Buffer.byteLength(m[0], 'latin1')) : head;
      head = null;
      done(null, rest);
    },
    flush(done: TransformCallback) {
      if (head !== null && head.length > 0) {
        const m = SANDBOX_LINE.exec(head.toString('latin1'));
        this.push(m ? head.subarray(Buffer.byteLength(m[0], 'latin1')) : head);
      }
      done();
    },
  });
}
