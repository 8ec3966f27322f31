import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, fchownSync, readFileSync } from 'node:fs';
import { AppError } from '../../util/errors.js';
import { cmdlineOf, isAlive, lastLines, sleep } from '../../util/proc.js';
import type { Layout } from './layout.js';
import { programs } from './programs.js';
import type { MysqldState } from '../../protocol/agent-api.js';

/** The states of a server process that exists (an uninitialized node has none). */
export type ProcessState = Exclude<MysqldState, 'uninitialized'>;

/** How a server run ended without being asked to. */
export interface LastExit {
  /** Its exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it, or null. */
  signal: string | null;
  /** When it was seen ended (ISO time). */
  at: string;
}

/**
 * Supervises one `mariadbd`: spawns it as a child (so its death is seen at once and it is
 * reaped), adopts one left running by an earlier agent (found by its pid file and command
 * line), stops it with SIGTERM then SIGKILL, and remembers how it last ended.
 */
export class MariadbProcess {
  private child: ChildProcess | null = null;
  private adoptedPid: number | null = null;
  private state: ProcessState = 'stopped';
  private lastExitValue: LastExit | null = null;
  private expectingExit = false;

  constructor(
    private readonly layout: Layout,
    private readonly binary = programs.mariadbd,
  ) {}

  get pid(): number | null {
    // isAlive too: a child reaped a moment ago has not yet had its exit event.
    const c = this.child;
    if (c?.pid !== undefined && c.exitCode === null && c.signalCode === null && isAlive(c.pid)) return c.pid;
    if (this.adoptedPid !== null && isAlive(this.adoptedPid)) return this.adoptedPid;
    return null;
  }

  get lastExit(): LastExit | null {
    return this.lastExitValue;
  }

  /** The state, refreshed for an adopted process (which is not our child and sends no exit event). */
  currentState(): ProcessState {
    if (this.adoptedPid !== null && !isAlive(this.adoptedPid)) {
      this.adoptedPid = null;
      if (this.state !== 'stopping') {
        this.state = 'crashed';
        this.lastExitValue = { code: null, signal: null, at: new Date().toISOString() };
      }
    }
    return this.state;
  }

  /** Finds a `mariadbd` of this instance left by an earlier agent. */
  adopt(): boolean {
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(this.layout.pidFile, 'utf8').trim(), 10);
    } catch {
      return false;
    }
    if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return false;
    const cmd = cmdlineOf(pid);
    if (!cmd?.includes(`--defaults-file=${this.layout.cnf}`)) return false;
    this.adoptedPid = pid;
    this.state = 'running';
    return true;
  }

  /**
   * Spawns `mariadbd`; the caller waits for it to accept connections. `logOwner` (uid, gid) is
   * given the error log first: mariadbd switches to the database user itself (`user=` in my.cnf)
   * and reopens its error log as it.
   */
  spawn(logOwner?: { uid: number; gid: number }): void {
    if (this.pid !== null) return;
    const errFd = openSync(this.layout.errorLog, 'a', 0o600);
    try {
      if (logOwner) fchownSync(errFd, logOwner.uid, logOwner.gid);
      const child = spawn(this.binary, [`--defaults-file=${this.layout.cnf}`], {
        stdio: ['ignore', errFd, errFd],
        cwd: this.layout.root,
      });
      this.child = child;
      this.adoptedPid = null;
      this.state = 'starting';
      this.expectingExit = false;
      child.once('error', () => {
        this.state = 'crashed';
      });
      child.once('exit', (code, signal) => {
        if (this.child !== child) return;
        this.child = null;
        if (this.expectingExit) {
          this.state = 'stopped';
          return;
        }
        this.state = 'crashed';
        this.lastExitValue = { code, signal, at: new Date().toISOString() };
      });
    } finally {
      closeSync(errFd);
    }
  }

  /** Records that the spawned server accepts connections. */
  markRunning(): void {
    if (this.pid !== null) this.state = 'running';
  }

  /** Throws with the end of the error log when the process died while starting. */
  assertStarting(): void {
    if (this.pid === null) {
      throw new AppError('ENGINE_FAILED', `mariadbd exited while starting: ${this.errorLogTail()}`);
    }
  }

  /** The last lines of the server's error log, to explain a failed start; '(no error log)' when there is none. */
  errorLogTail(): string {
    try {
      return lastLines(readFileSync(this.layout.errorLog, 'utf8').slice(-4096), 4);
    } catch {
      return '(no error log)';
    }
  }

  /** SIGTERM, wait up to `timeoutMs`, then SIGKILL. Resolves once the process is gone. */
  async stop(timeoutMs: number): Promise<void> {
    const pid = this.pid;
    if (pid === null) {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    this.expectingExit = true;
    signal(pid, 'SIGTERM');
    // A process stopped by SIGSTOP (frozen on purpose or by a debugger) acts on SIGTERM once continued.
    signal(pid, 'SIGCONT');
    const deadline = Date.now() + timeoutMs;
    while (this.pid !== null && Date.now() < deadline) await sleep(50);
    if (this.pid !== null) {
      signal(pid, 'SIGKILL');
      while (this.pid !== null) await sleep(20);
    }
    this.adoptedPid = null;
    this.state = 'stopped';
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
