import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { agentApi, type AgentApi } from '../../src/protocol/agent-api.js';
import { managerApi, type ManagerApi, type ServiceInfo } from '../../src/protocol/manager-api.js';
import type { ServiceState } from '../../src/protocol/service-states.js';
import { RpcClient } from '../../src/rpc/client.js';
import { isAlive, sleep } from '../../src/util/proc.js';
import { freePort } from './ports.js';

const CLI = resolve('dist/cli/main.js');

/** Pids of every live process whose command line mentions `dir` (our agents and mariadbd). */
export function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(dir) && isAlive(pid)) pids.push(pid);
    } catch {
      // gone
    }
  }
  return pids;
}

/** A real `cps-mysql manager` process with its own data directory, on loopback. */
export class ManagerProcess {
  child: ChildProcess | null = null;
  private clientValue: RpcClient<ManagerApi> | null = null;
  private output = '';

  private constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly monitorMs: number,
    private readonly extraArgs: string[],
    private readonly env: Record<string, string>,
  ) {
  }

  /** The manager's API token (created on its first start). */
  get token(): string {
    return readFileSync(join(this.dataDir, 'api-token'), 'utf8').trim();
  }

  /** The manager serves its API over HTTPS (`--tls`), with a certificate of the service CA. */
  get tls(): boolean {
    return this.extraArgs.includes('--tls');
  }

  /** The API's URL. */
  get url(): string {
    return `${this.tls ? 'https' : 'http'}://${this.host}:${this.port}/`;
  }

  /** The address the API listens on (`--host`, default 127.0.0.1). */
  get host(): string {
    const i = this.extraArgs.indexOf('--host');
    return i >= 0 ? this.extraArgs[i + 1]! : '127.0.0.1';
  }

  /** The service CA's certificate (once the manager made it), or null. */
  get ca(): string | null {
    const file = join(this.dataDir, 'pki', 'ca.crt');
    return existsSync(file) ? readFileSync(file, 'utf8') : null;
  }

  /** A typed client that sends the API token (kept once a token was read, and with TLS the CA). */
  get client(): RpcClient<ManagerApi> {
    if (this.clientValue) return this.clientValue;
    const token = existsSync(join(this.dataDir, 'api-token')) ? this.token : '';
    const ca = this.ca;
    const c = new RpcClient(managerApi, { url: this.url, timeoutMs: 60_000, token, ...(this.tls && ca ? { tls: { ca } } : {}) });
    if (token !== '' && (!this.tls || ca)) this.clientValue = c;
    return c;
  }

  /** A client for one node's agent, with the manager's certificate (agents speak mutual TLS only). */
  agent(node: { ip: string; agentPort: number }, timeoutMs = 5000): RpcClient<AgentApi> {
    const dir = join(this.dataDir, 'pki', 'manager');
    const tls = { ca: readFileSync(join(dir, 'ca.crt'), 'utf8'), cert: readFileSync(join(dir, 'manager.crt'), 'utf8'), key: readFileSync(join(dir, 'manager.key'), 'utf8') };
    return new RpcClient(agentApi, { url: `https://${node.ip}:${node.agentPort}/`, timeoutMs, tls });
  }

  static async start(options?: { monitorMs?: number; args?: string[]; env?: Record<string, string> }): Promise<ManagerProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'cps-mgr-'));
    const m = new ManagerProcess(dir, await freePort(), options?.monitorMs ?? 500, options?.args ?? [], options?.env ?? {});
    try {
      await m.launch();
    } catch (err) {
      // A manager that never answered is still stopped, by its pid, with anything it started.
      await m.cleanup();
      throw err;
    }
    return m;
  }

  async launch(): Promise<void> {
    // Through the CLI's #! line, as `cps-mysql manager` runs (its node flags with it).
    const child = spawn(CLI, ['manager', '--port', String(this.port), '--data-dir', this.dataDir, '--monitor-interval', String(this.monitorMs), ...this.extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.env },
    });
    child.stdout?.on('data', (c: Buffer) => (this.output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.child = child;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`manager exited with ${child.exitCode}: ${this.output}`);
      try {
        await this.client.call('get_service_info', {}, { timeoutMs: 1000 });
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`manager did not answer: ${this.output}`);
        await sleep(50);
      }
    }
  }

  get logs(): string {
    return this.output;
  }

  info(): Promise<ServiceInfo> {
    return this.client.call('get_service_info', {});
  }

  /** Waits until the service reaches `state` with no operation under way; fails on ERROR or timeout. */
  async waitFor(state: ServiceState, timeoutMs = 120_000): Promise<ServiceInfo> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await this.info();
      if (info.state === state && info.operation === null) return info;
      if (info.state === 'ERROR' && state !== 'ERROR') throw new Error(`service in ERROR: ${info.error}`);
      if (Date.now() > deadline) throw new Error(`service still ${info.state} (${info.operation?.step ?? ''}) after ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  /** Stops the manager, then every node process left under its directory, by pid, and removes it (kept, and named, when CPS_TEST_KEEP is set: for a post-mortem). */
  async cleanup(): Promise<void> {
    await this.kill('SIGTERM');
    for (const pid of processesUnder(this.dataDir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const pid of processesUnder(this.dataDir)) while (isAlive(pid)) await sleep(20);
    if (process.env.CPS_TEST_KEEP) process.stdout.write(`kept ${this.dataDir}\n`);
    else await rm(this.dataDir, { recursive: true, force: true });
  }
}
