import { agentApi, type AgentApi } from '../protocol/agent-api.js';
import { RpcClient, type ClientTls } from '../rpc/client.js';
import { AppError } from '../util/errors.js';
import type { NodeRecord } from '../store/store.js';

/** Typed clients for the agents of the registry's nodes, one per address. */
export class AgentClients {
  private readonly clients = new Map<string, RpcClient<AgentApi>>();

  /** With `tls`, agents are called over HTTPS with the manager's client certificate. */
  constructor(
    private readonly tls: ClientTls | null = null,
    private readonly timeoutMs = 600_000,
  ) {}

  for(node: Pick<NodeRecord, 'id' | 'host' | 'agentPort'>): RpcClient<AgentApi> {
    if (node.host === null || node.agentPort === null) throw new AppError('WRONG_STATE', `${node.id} has no address yet`);
    const url = `${this.tls ? 'https' : 'http'}://${node.host}:${node.agentPort}/`;
    let c = this.clients.get(url);
    if (!c) {
      c = new RpcClient(agentApi, { url, timeoutMs: this.timeoutMs, ...(this.tls ? { tls: this.tls } : {}) });
      this.clients.set(url, c);
    }
    return c;
  }
}
