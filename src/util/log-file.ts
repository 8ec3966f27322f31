import { closeSync, fstatSync, openSync, readSync, renameSync, statSync } from 'node:fs';
import { destination } from 'pino';

/** How big a log file grows before it is rotated, and how many old ones are kept. */
export const LOG_MAX_BYTES = 16 * 1024 * 1024;
/** Old log files kept. */
export const LOG_KEEP = 3;
const CHECK_MS = 10_000;

/** A log destination that rotates itself (`f` → `f.1` → … → `f.<keep>`), and how to stop watching it. */
export interface RotatingLog {
  /** The destination pino writes to. */
  stream: ReturnType<typeof destination>;
  /** Rotates now if the file is over its size (the timer does this every 10 s). */
  check(): void;
  /** Stops checking the size. */
  stop(): void;
}

/**
 * A pino file destination that never grows past about `maxBytes` (plus what 10 s of logging
 * adds): the file is renamed aside and reopened, keeping `keep` old files.
 */
export function rotatingLog(path: string, options?: { maxBytes?: number; keep?: number }): RotatingLog {
  const maxBytes = options?.maxBytes ?? LOG_MAX_BYTES;
  const keep = options?.keep ?? LOG_KEEP;
  const stream = destination({ dest: path, sync: false, mkdir: true });
  const check = (): void => {
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return;
    }
    if (size <= maxBytes) return;
    for (let i = keep - 1; i >= 1; i--) {
      try {
        renameSync(`${path}.${i}`, `${path}.${i + 1}`);
      } catch {
        // not there yet
      }
    }
    renameSync(path, `${path}.1`);
    stream.reopen();
  };
  const timer = setInterval(check, CHECK_MS);
  timer.unref();
  return { stream, check, stop: () => clearInterval(timer) };
}

/** The last `bytes` of a file, from the start of a line; '' when there is no file. */
export function readTail(path: string, bytes: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const text = buf.toString('utf8');
    return len < size ? text.slice(text.indexOf('\n') + 1) : text;
  } finally {
    closeSync(fd);
  }
}
