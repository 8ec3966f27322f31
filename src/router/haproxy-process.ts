import { spawn, type ChildProcess } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { AppError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { lastLines, run, sleep, TailBuffer, waitExit } from '../util/proc.js';

/** True when a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Milliseconds HAProxy has to exit after SIGTERM (it drops its sessions then) before SIGKILL. */
const STOP_GRACE_MS = 5000;

/**
 * Debian's `haproxy` as a child process in master-worker mode (`-W`), in the foreground (`-db`),
 * on one configuration file in `dir`. A new configuration is checked (`haproxy -c`) before it
 * replaces the file, then loaded with SIGUSR2: the master starts new workers on it, and the old
 * workers finish the sessions they hold for OLD_WORKER_SECONDS at most (haproxy-config.ts:
 * they check no server). Stopped by its PID.
 */
export class HaproxyProcess {
  private child: ChildProcess | null = null;
  private readonly stderr = new TailBuffer(8192);
  private readonly file: string;

  constructor(
    private readonly program: string,
    dir: string,
    private readonly logger: Logger,
  ) {
    this.file = join(dir, 'haproxy.cfg');
  }

  /** The PID of the HAProxy master, or null when it does not run. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Checks `config` with `haproxy -c`; ENGINE_FAILED with HAProxy's words when it is refused. */
  private async install(config: string): Promise<void> {
    const next = `${this.file}.next`;
    writeFileSync(next, config, { mode: 0o600 });
    await run(this.program, ['-c', '-q', '-f', next]).catch((err: unknown) => {
      throw new AppError('ENGINE_FAILED', `haproxy refused the configuration: ${(err as Error).message}`, { cause: err });
    });
    renameSync(next, this.file);
  }

  /**
   * Starts HAProxy on `config` and waits (at most 10 s) until `listen` accepts connections;
   * ENGINE_FAILED with HAProxy's words when the configuration is refused or HAProxy exits (a port
   * already taken, say).
   */
  async start(config: string, listen: { host: string; port: number }): Promise<void> {
    await this.install(config);
    const child = spawn(this.program, ['-W', '-db', '-f', this.file], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (c: Buffer) => this.stderr.push(c));
    this.child = child;
    child.once('exit', (code, signal) => {
      if (this.child === child) {
        this.child = null;
        this.logger.error({ code, signal, stderr: lastLines(this.stderr.text(), 5) }, 'haproxy exited');
      }
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => reject(new AppError('ENGINE_FAILED', `cannot run ${this.program}: ${err.message}`, { cause: err })));
    });
    const deadline = Date.now() + 10_000;
    while (!(await accepts(listen.host, listen.port))) {
      if (this.child !== child) throw new AppError('ENGINE_FAILED', `haproxy exited: ${lastLines(this.stderr.text(), 5)}`);
      if (Date.now() > deadline) {
        await this.stop();
        throw new AppError('ENGINE_FAILED', `haproxy does not listen on ${listen.host}:${listen.port}: ${lastLines(this.stderr.text(), 5)}`);
      }
      await sleep(50);
    }
  }

  /** Loads `config` (SIGUSR2 to the master): new sessions use it, the old ones last OLD_WORKER_SECONDS at most; ENGINE_FAILED when it is refused or HAProxy is not running. */
  async reload(config: string): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined) throw new AppError('ENGINE_FAILED', `haproxy is not running: ${lastLines(this.stderr.text(), 5)}`);
    await this.install(config);
    process.kill(child.pid, 'SIGUSR2');
  }

  /** Stops HAProxy (SIGTERM, then SIGKILL after a grace period) and waits until it is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = waitExit(child);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited.finally(() => clearTimeout(timer));
  }
}
