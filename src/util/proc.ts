import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { PassThrough, type Readable } from 'node:stream';
import { AppError } from './errors.js';

/** Keeps the last `max` bytes written to it: enough of stderr to explain a failure. */
export class TailBuffer {
  private buf = Buffer.alloc(0);
  constructor(private readonly max = 4096) {}
  /** Keeps `chunk`, dropping what falls out of the last `max` bytes. */
  push(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (this.buf.length > this.max) this.buf = this.buf.subarray(this.buf.length - this.max);
  }
  /** What was kept, as text, trimmed. */
  text(): string {
    return this.buf.toString('utf8').trim();
  }
}

/** How a child process ended. */
export interface Exit {
  /** Its exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it, or null. */
  signal: NodeJS.Signals | null;
}

/** Resolves when the child has ended (at once if it has); rejects when it could not be spawned. */
export function waitExit(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

/**
 * Lowers a child's CPU priority to `nice` (0–19, higher yields more), best effort: a child that
 * already exited, or one this process may not touch, keeps its priority (it still runs, only
 * without yielding). Used for the copies a host runs beside a serving server, so the server's
 * threads get the CPU first (bench item 1 (e): the master's longest write gap while a replica
 * is copied).
 */
export function lowerPriority(child: ChildProcess, nice: number): void {
  if (child.pid === undefined) return;
  try {
    setPriority(child.pid, nice);
  } catch {
    // ESRCH (gone already) or EPERM: nothing to do; the copy runs at its parent's priority.
  }
}

/** `exited with code N` or `was killed by SIG…`. */
export function describeExit(e: Exit): string {
  return e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
}

/**
 * Runs a program to completion. On failure throws ENGINE_FAILED with the tail of its stderr, or
 * what `failure` makes of that tail (for programs whose stderr may carry secrets).
 */
export async function run(
  cmd: string,
  args: string[],
  options?: SpawnOptions & { stdin?: Readable; failure?: (stderrTail: string, exit: Exit) => AppError; nice?: number },
): Promise<{ stdout: string }> {
  const { stdin, failure, nice, ...spawnOptions } = options ?? {};
  const child = spawn(cmd, args, { ...spawnOptions, stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  if (nice !== undefined) lowerPriority(child, nice);
  const out: Buffer[] = [];
  const err = new TailBuffer();
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  if (stdin && child.stdin) {
    child.stdin.on('error', () => undefined); // the exit code tells what happened
    stdin.pipe(child.stdin);
  }
  let exit: Exit;
  try {
    exit = await waitExit(child);
  } catch (e) {
    throw new AppError('ENGINE_FAILED', `cannot run ${cmd}: ${(e as Error).message}`, { cause: e });
  }
  if (exit.code !== 0) {
    if (failure) throw failure(err.text(), exit);
    throw new AppError('ENGINE_FAILED', `${cmd} ${describeExit(exit)}: ${lastLines(err.text(), 5)}`);
  }
  return { stdout: Buffer.concat(out).toString('utf8') };
}

/** How long a program whose reader went away has to exit after SIGTERM before it gets SIGKILL. */
export const READER_GONE_GRACE_MS = 2000;

/**
 * Asks a child to stop (SIGTERM) and kills it (SIGKILL) if it has not exited `graceMs` later: a
 * program may catch SIGTERM and not act on it (socat, looping in a TLS handshake with a peer that
 * went away, was seen doing so), and a caller awaiting its exit would then wait forever.
 */
export function terminate(child: ChildProcess, graceMs = READER_GONE_GRACE_MS): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, graceMs);
  timer.unref();
  child.once('exit', () => clearTimeout(timer));
}

/**
 * The stdout of a program as a stream that ends cleanly only if the program exits with 0;
 * otherwise the stream fails with the tail of its stderr, so a reader never mistakes a
 * truncated output for a whole one. A reader that goes away stops the program: SIGTERM, then
 * SIGKILL after `graceMs` (some programs, `mariadb-backup` holding its backup lock among them,
 * do not act on SIGTERM; one left running would keep its locks for good). `nice`: see lowerPriority.
 */
export function spawnOutput(cmd: string, args: string[], options?: SpawnOptions & { graceMs?: number; nice?: number }): { stream: Readable; child: ChildProcess } {
  const { graceMs = READER_GONE_GRACE_MS, nice, ...spawnOptions } = options ?? {};
  const child = spawn(cmd, args, { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] });
  if (nice !== undefined) lowerPriority(child, nice);
  const err = new TailBuffer();
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  child.stdout?.pipe(out, { end: false });
  let stdoutEnded = false;
  let exit: Exit | null = null;
  const settle = (): void => {
    if (!stdoutEnded || !exit) return;
    if (exit.code === 0) out.end();
    else out.destroy(new AppError('ENGINE_FAILED', `${cmd} ${describeExit(exit)}: ${lastLines(err.text(), 5)}`));
  };
  child.stdout?.on('end', () => {
    stdoutEnded = true;
    settle();
  });
  child.on('error', (e) => out.destroy(new AppError('ENGINE_FAILED', `cannot run ${cmd}: ${e.message}`, { cause: e })));
  child.on('close', (code, signal) => {
    exit = { code, signal };
    stdoutEnded = true;
    settle();
  });
  out.on('close', () => terminate(child, graceMs));
  return { stream: out, child };
}

/** The last `n` non-blank lines of `text`, joined with ' | '; '(no message)' when there is none. */
export function lastLines(text: string, n: number): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(-n).join(' | ') || '(no message)';
}

/** True when a process with this pid exists and is not a zombie (see MARIADB-NOTES trap 10). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The command line of a live process, or null. */
export function cmdlineOf(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '');
  } catch {
    return null;
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
