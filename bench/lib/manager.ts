import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { agentApi, type AgentApi } from '../../src/protocol/agent-api.js';
import { managerApi, type ManagerApi, type ServiceInfo, type ServiceNodeInfo } from '../../src/protocol/manager-api.js';
import type { ServiceState } from '../../src/protocol/service-states.js';
import { RpcClient } from '../../src/rpc/client.js';
import type { Ctx } from './context.js';
import { freePort } from './net.js';
import { killMentioning, now, sleep, spawnTracked, stopChild } from './proc.js';

/** The files of one node of the local cloud, as the README documents them (D/nodes/<id>/). */
export interface NodeFiles {
  dir: string;
  data: string;
  socket: string;
  agentLog: string;
  marker: string;
}

export function nodeFilesIn(dir: string): NodeFiles {
  return {
    dir,
    data: join(dir, 'data'),
    socket: join(dir, 'run', 'mysqld.sock'),
    agentLog: join(dir, 'agent.log'),
    marker: join(dir, 'initialized'),
  };
}

/** A real `cps-mysql manager` process with its own data directory under the run's root. */
export class BenchManager {
  child: ChildProcess | null = null;
  /** The API client, with the manager's token (known once the manager has started). */
  client: RpcClient<ManagerApi>;
  /** The API token the manager wrote in its data directory (`D/api-token`) on its first start. */
  token = '';

  private constructor(
    private readonly ctx: Ctx,
    readonly dataDir: string,
    readonly port: number,
    private readonly extraArgs: string[] = [],
  ) {
    this.client = this.makeClient();
  }

  private makeClient(): RpcClient<ManagerApi> {
    const options = { url: `http://127.0.0.1:${this.port}/`, timeoutMs: 60_000, ...(this.token ? { token: this.token } : {}) };
    return new RpcClient(managerApi, options);
  }

  /** Reads the token once the manager has written it. */
  private loadToken(): boolean {
    const file = join(this.dataDir, 'api-token');
    if (!existsSync(file)) return false;
    const token = readFileSync(file, 'utf8').trim();
    if (!token) return false;
    if (token !== this.token) {
      this.token = token;
      this.client = this.makeClient();
    }
    return true;
  }

  /** Starts a manager on a new, empty data directory `<root>/<name>`, with `extraArgs` (e.g. `--backup-dir D`). */
  static async create(ctx: Ctx, name: string, monitorMs?: number, extraArgs: string[] = []): Promise<BenchManager> {
    const dir = join(ctx.root, name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const m = new BenchManager(ctx, dir, await freePort(), extraArgs);
    await m.launch(monitorMs);
    return m;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts (again) the manager process on the same directory and port; `monitorMs` unset = its default. */
  async launch(monitorMs?: number): Promise<void> {
    const out = openSync(`${this.dataDir}.out`, 'a');
    const args = [this.ctx.cli, 'manager', '--port', String(this.port), '--data-dir', this.dataDir];
    if (monitorMs !== undefined) args.push('--monitor-interval', String(monitorMs));
    args.push(...this.extraArgs);
    try {
      // Through the CLI's #! line, as `cps-mysql manager` runs: its node flags are part of what is measured.
      this.child = spawnTracked('manager', args[0]!, args.slice(1), { stdio: ['ignore', out, out] });
    } finally {
      closeSync(out);
    }
    const child = this.child;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the manager exited with ${child.exitCode}: ${this.outputTail()}`);
      try {
        // A manager that requires a token writes it before it listens (an older one has none).
        this.loadToken();
        await this.client.call('get_service_info', {}, { timeoutMs: 1000 });
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`the manager did not answer: ${this.outputTail()}`);
        await sleep(50);
      }
    }
  }

  outputTail(): string {
    try {
      return readFileSync(`${this.dataDir}.out`, 'utf8').trim().split('\n').slice(-5).join('\n');
    } catch {
      return '';
    }
  }

  /** Stops the manager process only; its nodes keep running, as they would on VMs. */
  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child);
    this.child = null;
  }

  /** The highest node sequence number any answer of this manager has shown (node-<n>; 0 before any). */
  highestSeq = 0;

  async info(): Promise<ServiceInfo> {
    const info = await this.client.call('get_service_info', {}, { timeoutMs: 10_000 });
    for (const n of info.nodes) this.highestSeq = Math.max(this.highestSeq, Number(/^node-(\d+)$/.exec(n.id)?.[1] ?? 0));
    return info;
  }

  /**
   * The ids the next `count` nodes will get, when nothing else creates nodes meanwhile: the
   * manager numbers them in sequence, never reusing one (src/manager/core/model.ts, nodeId).
   */
  nextIds(count: number): string[] {
    return Array.from({ length: count }, (_, i) => `node-${this.highestSeq + 1 + i}`);
  }

  /**
   * Waits until the service is in `state` with no operation under way, polling every 50 ms;
   * returns the info and the monotonic time it was first seen. An operation that ended with an
   * error (undone, back to RUNNING) or ERROR fails.
   */
  async waitIdle(state: ServiceState = 'RUNNING', timeoutMs = 600_000): Promise<{ info: ServiceInfo; at: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await this.info();
      const at = now();
      if (info.operation === null && info.state === state) {
        if (info.error) throw new Error(`the operation failed: ${info.error}`);
        return { info, at };
      }
      if (info.state === 'ERROR' && state !== 'ERROR') throw new Error(`service in ERROR: ${info.error ?? ''}`);
      if (Date.now() > deadline) throw new Error(`service still ${info.state} (${info.operation?.step ?? ''}) after ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** Calls startup and waits for RUNNING. */
  async startService(slaves = 0): Promise<ServiceInfo> {
    await this.client.call('startup', { slaves });
    return (await this.waitIdle('RUNNING')).info;
  }

  nodeFiles(id: string): NodeFiles {
    return nodeFilesIn(join(this.dataDir, 'nodes', id));
  }

  /**
   * A client for a node's agent, as the manager calls it: over mutual TLS with the manager's
   * own certificate (`D/pki/manager/`), the only one its agents answer every method to.
   */
  agentOf(node: ServiceNodeInfo): RpcClient<AgentApi> {
    const dir = join(this.dataDir, 'pki', 'manager');
    const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'manager.crt'), key: join(dir, 'manager.key') };
    if (!existsSync(files.key)) {
      return new RpcClient(agentApi, { url: `http://${node.ip}:${node.agentPort}/`, timeoutMs: 600_000 });
    }
    const tls = { ca: readFileSync(files.ca, 'utf8'), cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') };
    const options = { url: `https://${node.ip}:${node.agentPort}/`, timeoutMs: 600_000, tls };
    return new RpcClient(agentApi, options);
  }

  /** The pid of a node's agent, from its node.json. */
  agentPid(id: string): number | null {
    try {
      const r = JSON.parse(readFileSync(join(this.dataDir, 'nodes', id, 'node.json'), 'utf8')) as { pid?: unknown };
      return typeof r.pid === 'number' ? r.pid : null;
    } catch {
      return null;
    }
  }

  /** Stops the manager, then every process left under its directory, by pid, and removes the directory. */
  async destroy(): Promise<void> {
    await this.stop();
    await killMentioning(`${this.dataDir}/`);
    if (this.ctx.keep) return;
    await rm(this.dataDir, { recursive: true, force: true });
    await rm(`${this.dataDir}.out`, { force: true });
  }
}

export function masterOf(info: ServiceInfo): ServiceNodeInfo {
  const m = info.nodes.find((n) => n.role === 'master' && n.status === 'ready');
  if (!m) throw new Error('the service has no master');
  return m;
}
