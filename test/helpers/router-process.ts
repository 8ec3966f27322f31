import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isAlive, sleep } from '../../src/util/proc.js';
import type { ManagerProcess } from './manager-process.js';
import { freePort } from './ports.js';

const CLI = resolve('dist/cli/main.js');

/** `cps-mysql router` as a user runs it, a child of the test, stopped by its PID (SIGTERM), HAProxy with it. */
export class RouterProcess {
  private output = '';
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly writePort: number,
    readonly readPort: number,
    readonly haproxyPid: number,
  ) {}

  /** Starts a router for the manager's service on free ports; resolves once it printed its endpoints. */
  static async start(m: ManagerProcess, extra: string[] = []): Promise<RouterProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'cps-router-test-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, m.token, { mode: 0o600 });
    const writePort = await freePort();
    let readPort = await freePort();
    while (readPort === writePort) readPort = await freePort();
    const args = [CLI, '--manager', m.url, '--token-file', tokenFile, 'router', '--json', '--write-port', String(writePort), '--read-port', String(readPort), '--poll-ms', '250', ...extra];
    const env = { ...process.env };
    if (m.ca) {
      writeFileSync(join(dir, 'ca.crt'), m.ca);
      env['CPS_MYSQL_CA'] = join(dir, 'ca.crt');
    }
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const line = output.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        const e = JSON.parse(line) as { write: string; read: string; pid: number };
        const r = new RouterProcess(child, dir, writePort, readPort, e.pid);
        child.stdout?.on('data', (c: Buffer) => (r.output += c.toString()));
        child.stderr?.on('data', (c: Buffer) => (r.output += c.toString()));
        r.output = output;
        return r;
      }
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`the router did not start: ${output}`);
      }
      await sleep(50);
    }
  }

  /** What the router printed. */
  get logs(): string {
    return this.output;
  }

  /** SIGTERM to the router; resolves once it and its HAProxy are gone (SIGKILL after 15 s). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    if (isAlive(this.haproxyPid)) process.kill(this.haproxyPid, 'SIGKILL');
    while (isAlive(this.haproxyPid)) await sleep(20);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
