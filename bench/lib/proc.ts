import { processesUnder } from '../../test/helpers/manager-process.js';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { isAlive } from '../../src/util/proc.js';
import { performance } from 'node:perf_hooks';

/**
 * Process control for the benchmarks. Every child is started in its own process group and
 * remembered by pid, so it (and a pipeline it runs) can be stopped by that pid alone; nothing
 * is ever signalled by name.
 */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Monotonic milliseconds, for durations. */
export const now = (): number => performance.now();

const tracked = new Map<number, { name: string; child: ChildProcess }>();

/** True while `pid` exists and is not a zombie: the product's own check. */
export { isAlive };

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Starts a tracked child in its own process group. */
export function spawnTracked(name: string, cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(cmd, args, { ...options, detached: true });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${name} (${cmd})`);
  tracked.set(pid, { name, child });
  child.once('exit', () => tracked.delete(pid));
  child.on('error', () => undefined);
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/** Stops a tracked child (and its process group): SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 30_000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  if (child.exitCode === null && child.signalCode === null) {
    signal(-pid, 'SIGTERM');
    signal(pid, 'SIGTERM');
    const t = setTimeout(() => {
      signal(-pid, 'SIGKILL');
      signal(pid, 'SIGKILL');
    }, graceMs);
    await exited(child);
    clearTimeout(t);
  }
}

/** Stops every child still tracked. */
export async function stopAllTracked(): Promise<void> {
  await Promise.all([...tracked.values()].map(({ child }) => stopChild(child, 10_000)));
}

export function trackedNames(): string[] {
  return [...tracked.values()].map((t) => `${t.name} (${t.child.pid ?? '?'})`);
}

/** Pids of live processes whose command line contains `text` (our agents and mariadbd under a directory). */
export const processesMentioning = processesUnder;

/** Stops, by pid, every process whose command line names `dir`: SIGTERM, then SIGKILL after `graceMs`. */
export async function killMentioning(dir: string, graceMs = 30_000): Promise<void> {
  let pids = processesMentioning(dir);
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.length > 0 && Date.now() < deadline) {
    await sleep(50);
    pids = pids.filter(isAlive);
  }
  for (const pid of pids) signal(pid, 'SIGKILL');
  const hard = Date.now() + 10_000;
  while (pids.some(isAlive) && Date.now() < hard) await sleep(20);
}

export interface RunResult {
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Write standard output to this file instead of keeping it. */
  stdoutFile?: string;
  /** Kill the command after this many milliseconds. */
  timeoutMs?: number;
}

/** Runs a command to its end (tracked, so an interrupted benchmark stops it); fails on a non-zero exit. */
export async function runCmd(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const started = now();
  const child = spawnTracked(cmd, cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const fileDone = options.stdoutFile
    ? new Promise<void>((resolve, reject) => {
        const ws = createWriteStream(options.stdoutFile!);
        ws.on('error', reject);
        ws.on('finish', resolve);
        child.stdout!.pipe(ws);
      })
    : Promise.resolve();
  if (!options.stdoutFile) child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  let timer: NodeJS.Timeout | undefined;
  if (options.timeoutMs) timer = setTimeout(() => void stopChild(child, 2000), options.timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  if (timer) clearTimeout(timer);
  await fileDone;
  const result = { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: now() - started };
  if (code !== 0) {
    const tail = result.stderr.trim().split('\n').slice(-6).join('\n');
    throw new Error(`${cmd} ${args.slice(0, 3).join(' ')}… exited with ${code}: ${tail}`);
  }
  return result;
}

/** Runs a shell script (a pipeline) to its end. */
export function runShell(script: string, options: RunOptions = {}): Promise<RunResult> {
  return runCmd('sh', ['-c', script], options);
}

/** A `Name:   N kB` field of /proc/<pid>/<file>, in MiB, or null (no such process or field). */
function procMiB(pid: number, file: string, field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+([0-9]+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Resident memory of a process in MiB, from /proc/<pid>/status, or null. */
export function rssMiB(pid: number): number | null {
  return procMiB(pid, 'status', 'VmRSS');
}

/**
 * A process's private memory in MiB: its anonymous pages (heap, stacks, malloc), from
 * /proc/<pid>/smaps_rollup, or null. RSS also counts the pages of the `node` binary, which every
 * Node process on the host shares (~45 MiB here).
 */
export function privateMiB(pid: number): number | null {
  return procMiB(pid, 'smaps_rollup', 'Anonymous');
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat, or null. */
export function cpuSeconds(pid: number, clockTicks = 100): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / clockTicks : null;
  } catch {
    return null;
  }
}
