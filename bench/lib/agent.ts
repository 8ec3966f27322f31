import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { agentApi, type AgentApi } from '../../src/protocol/agent-api.js';
import { RpcClient } from '../../src/rpc/client.js';
import type { Ctx } from './context.js';
import { nodeFilesIn, type NodeFiles } from './manager.js';
import { freePortPair } from './net.js';
import { killMentioning, sleep, spawnTracked, stopChild } from './proc.js';

/** A `cps-mysql agent` started directly, without a manager (the 2011 method's new replica). */
export class BenchAgent {
  readonly client: RpcClient<AgentApi>;
  readonly files: NodeFiles;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly child: ChildProcess,
    private readonly keep: boolean,
  ) {
    this.client = new RpcClient(agentApi, { url: `http://127.0.0.1:${port}/`, timeoutMs: 600_000 });
    this.files = nodeFilesIn(dir);
  }

  get mysqlPort(): number {
    return this.port + 1;
  }

  static async start(ctx: Ctx, dir: string): Promise<BenchAgent> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const port = await freePortPair();
    const out = openSync(`${dir}/agent.log`, 'a');
    let child: ChildProcess;
    try {
      child = spawnTracked('agent', process.execPath, [ctx.cli, 'agent', '--host', '127.0.0.1', '--port', String(port), '--dir', dir], {
        stdio: ['ignore', out, out],
        cwd: dir,
      });
    } finally {
      closeSync(out);
    }
    const a = new BenchAgent(dir, port, child, ctx.keep);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the agent exited with ${child.exitCode}`);
      try {
        await a.client.call('check_agent_process', {}, { timeoutMs: 1000 });
        return a;
      } catch {
        if (Date.now() > deadline) throw new Error('the agent did not answer');
        await sleep(20);
      }
    }
  }

  /** Stops the agent (it stops its mariadbd), sweeps anything left under its directory, removes it. */
  async destroy(): Promise<void> {
    await stopChild(this.child);
    await killMentioning(`${this.dir}/`);
    if (this.keep) return;
    await rm(this.dir, { recursive: true, force: true });
  }
}
