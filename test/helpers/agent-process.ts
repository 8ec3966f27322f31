import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { agentApi, type AgentApi } from '../../src/protocol/agent-api.js';
import { RpcClient } from '../../src/rpc/client.js';
import { isAlive, sleep } from '../../src/util/proc.js';
import { freePortPair } from './ports.js';

const CLI = resolve('dist/cli/main.js');

/** A real `cps-mysql agent` process on loopback, with its own temporary directory. */
export class AgentProcess {
  child: ChildProcess | null = null;
  readonly client: RpcClient<AgentApi>;
  private output = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly mysqlPort: number,
    readonly host: string,
  ) {
    this.client = new RpcClient(agentApi, { url: `http://${host}:${port}/`, timeoutMs: 300_000 });
  }

  /** `templateDir`: the agent's `--template-dir` (the host's data-directory template). */
  private extraArgs: string[] = [];

  static async start(options?: { dir?: string; host?: string; templateDir?: string }): Promise<AgentProcess> {
    const host = options?.host ?? '127.0.0.1';
    const dir = options?.dir ?? mkdtempSync(join(tmpdir(), 'cps-agent-'));
    const port = await freePortPair(host);
    const a = new AgentProcess(dir, port, port + 1, host);
    a.extraArgs = options?.templateDir ? ['--template-dir', options.templateDir] : [];
    try {
      await a.launch();
    } catch (err) {
      // An agent that never answered is still stopped by its pid.
      await a.stop({ keepDir: options?.dir !== undefined });
      throw err;
    }
    return a;
  }

  /** Starts (again) the agent process on the same directory and ports. */
  async launch(): Promise<void> {
    const child = spawn(process.execPath, [CLI, 'agent', '--host', this.host, '--port', String(this.port), '--dir', this.dir, ...this.extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CPS_MYSQL_LOG_LEVEL: 'info' },
    });
    child.stdout?.on('data', (c: Buffer) => (this.output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.child = child;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`agent exited with ${child.exitCode}: ${this.output}`);
      try {
        await this.client.call('check_agent_process', {}, { timeoutMs: 1000 });
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`agent did not answer: ${this.output}`);
        await sleep(50);
      }
    }
  }

  get logs(): string {
    return this.output;
  }

  /** The pid of this node's mariadbd, from its pid file, if it is alive. */
  mysqldPid(): number | null {
    const f = join(this.dir, 'run', 'mysqld.pid');
    if (!existsSync(f)) return null;
    const pid = Number.parseInt(readFileSync(f, 'utf8').trim(), 10);
    return Number.isInteger(pid) && isAlive(pid) ? pid : null;
  }

  /** Kills the agent process only (SIGKILL), leaving its mariadbd running, as a crash would. */
  async killAgent(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops everything this node runs, by pid: the agent (SIGTERM stops mariadbd too), then any mariadbd left. */
  async stop(options?: { keepDir?: boolean }): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
    }
    const pid = this.mysqldPid();
    if (pid !== null) {
      process.kill(pid, 'SIGKILL');
      while (isAlive(pid)) await sleep(20);
    }
    if (!options?.keepDir) await rm(this.dir, { recursive: true, force: true });
  }
}

/** Stops every agent in the list, whatever state each is in. */
export async function stopAll(agents: AgentProcess[]): Promise<void> {
  await Promise.all(agents.map((a) => a.stop()));
  agents.length = 0;
}
