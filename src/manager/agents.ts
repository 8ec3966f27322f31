import type { Readable } from 'node:stream';
import { agentApi, type AgentApi, type Login } from '../protocol/agent-api.js';
import type { ParamsOf, ResultOf } from '../protocol/method.js';
import { RpcClient, type ClientTls } from '../rpc/client.js';
import { AppError } from '../util/errors.js';
import type { AgentDirectory, AgentJsonMethod, AgentPort, CallOptions } from './agent-port.js';

/** An agent reached over the wire protocol. */
class RpcAgent implements AgentPort {
  constructor(private readonly client: RpcClient<AgentApi>) {}

  call<K extends AgentJsonMethod>(name: K, params: ParamsOf<AgentApi[K]>, options?: CallOptions): Promise<ResultOf<AgentApi[K]>> {
    return this.client.call(name, params, options);
  }

  dump(): Promise<Readable> {
    return this.client.stream('dump', {});
  }

  loadDump(file: Readable, login: Login): Promise<{ bytes: number; statements: number }> {
    return this.client.upload('load_dump', 'mysqldump_file', file, { params: login });
  }
}

/** Typed clients for the agents of the registry's nodes, one per address, over mutual TLS when `tls` is given. */
export class RpcAgents implements AgentDirectory {
  private readonly agents = new Map<string, AgentPort>();

  /** `timeoutMs`: how long a call may take unless it says otherwise (provisioning is long). */
  constructor(
    private readonly tls: ClientTls | null,
    private readonly timeoutMs: number,
  ) {}

  for(node: { id: string; host: string | null; agentPort: number | null }): AgentPort {
    if (node.host === null || node.agentPort === null) throw new AppError('WRONG_STATE', `${node.id} has no address yet`);
    const url = `${this.tls ? 'https' : 'http'}://${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.agentPort}/`;
    let a = this.agents.get(url);
    if (!a) {
      a = new RpcAgent(new RpcClient(agentApi, { url, timeoutMs: this.timeoutMs, ...(this.tls ? { tls: this.tls } : {}) }));
      this.agents.set(url, a);
    }
    return a;
  }
}
