import type { Readable } from 'node:stream';
import { agentApi, type AgentApi, type LoadAnswer, type Login } from '../protocol/agent-api.js';
import type { ParamsOf, ResultOf } from '../protocol/method.js';
import { RpcClient, type ClientTls } from '../rpc/client.js';
import { AppError } from '../util/errors.js';
import type { AgentDirectory, AgentJsonMethod, AgentPort, CallOptions } from './agent-port.js';

/** Milliseconds a call that changes or reads one thing on a server may take (a frozen peer holds nothing longer). */
export const SHORT_CALL_MS = 30_000;

/** Calls that may take as long as the long timeout: copying a snapshot, initialising or stopping a server (crash recovery, a slow shutdown). */
const LONG_CALLS: ReadonlySet<string> = new Set(['provision_from', 'init_server', 'stop']);

/**
 * The deadline of a call that gives none: its own wait plus 10 s for `wait_for_gtid`, `longMs`
 * for the long calls, SHORT_CALL_MS for the rest.
 */
export function callDeadlineMs(name: string, params: unknown, longMs: number): number {
  if (name === 'wait_for_gtid') return (params as { timeoutSeconds: number }).timeoutSeconds * 1000 + 10_000;
  return LONG_CALLS.has(name) ? longMs : Math.min(SHORT_CALL_MS, longMs);
}

/** An agent reached over the wire protocol. */
class RpcAgent implements AgentPort {
  constructor(
    private readonly client: RpcClient<AgentApi>,
    private readonly longMs: number,
  ) {}

  call<K extends AgentJsonMethod>(name: K, params: ParamsOf<AgentApi[K]>, options?: CallOptions): Promise<ResultOf<AgentApi[K]>> {
    return this.client.call(name, params, { timeoutMs: options?.timeoutMs ?? callDeadlineMs(name, params, this.longMs) });
  }

  dump(): Promise<Readable> {
    return this.client.stream('dump', {});
  }

  snapshot(incrementalLsn?: number): Promise<Readable> {
    return this.client.stream('stream_snapshot', incrementalLsn !== undefined ? { incrementalLsn } : {});
  }

  loadDump(file: Readable, login: Login): Promise<LoadAnswer> {
    return this.client.upload('load_dump', 'mysqldump_file', file, { params: login });
  }

  restoreBackup(file: Readable, params: ParamsOf<AgentApi['restore_backup']>): Promise<ResultOf<AgentApi['restore_backup']>> {
    return this.client.upload('restore_backup', 'backup', file, { params, timeoutMs: this.longMs });
  }

  replayBinlog(file: Readable, params: ParamsOf<AgentApi['replay_binlog']>): Promise<ResultOf<AgentApi['replay_binlog']>> {
    return this.client.upload('replay_binlog', 'binlog', file, { params, timeoutMs: this.longMs });
  }
}

/** Typed clients for the agents of the registry's nodes, one per address, over mutual TLS when `tls` is given. */
export class RpcAgents implements AgentDirectory {
  private readonly agents = new Map<string, AgentPort>();

  /** `timeoutMs`: how long the long calls (provisioning, starting a server) and streams may take; the others are bounded by `callDeadlineMs`. */
  constructor(
    private readonly tls: ClientTls | null,
    private readonly timeoutMs: number,
  ) {}

  for(node: { id: string; host: string | null; agentPort: number | null }): AgentPort {
    if (node.host === null || node.agentPort === null) throw new AppError('WRONG_STATE', `${node.id} has no address yet`);
    const url = `${this.tls ? 'https' : 'http'}://${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.agentPort}/`;
    let a = this.agents.get(url);
    if (!a) {
      a = new RpcAgent(new RpcClient(agentApi, { url, timeoutMs: this.timeoutMs, ...(this.tls ? { tls: this.tls } : {}) }), this.timeoutMs);
      this.agents.set(url, a);
    }
    return a;
  }
}
