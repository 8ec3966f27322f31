import type { Readable } from 'node:stream';
import type { AgentApi, Login, LoadAnswer } from '../protocol/agent-api.js';
import type { ParamsOf, ResultOf } from '../protocol/method.js';

/** How long the manager waits for one call, in milliseconds (default: the directory's). */
export interface CallOptions {
  /** Milliseconds; absent: the directory's default. */
  timeoutMs?: number;
}

/** The agent methods that answer JSON: every method but the streams and the upload, which have calls of their own. */
export type AgentJsonMethod = Exclude<keyof AgentApi, 'stream_snapshot' | 'dump' | 'load_dump' | 'restore_backup' | 'replay_binlog'>;

/**
 * One node's agent as the manager sees it, derived from the agent's method map
 * (protocol/agent-api.ts): the real one is the RPC client (agents.ts), the test one a stateful
 * fake (test/fakes/fake-agent.ts); test/contract/agent.contract.ts holds both to the same
 * behaviour. Errors carry the agent's stable codes (WRONG_STATE, INVALID_PARAMS, …), and
 * PEER_FAILED or TIMEOUT when the agent cannot be reached in time.
 */
export interface AgentPort {
  /** Calls one of the agent's JSON methods; its result, or the agent's error with its code (PEER_FAILED, TIMEOUT when unreachable). */
  call<K extends AgentJsonMethod>(name: K, params: ParamsOf<AgentApi[K]>, options?: CallOptions): Promise<ResultOf<AgentApi[K]>>;
  /** A logical dump of the node's user databases, streamed (the agent's `dump`). */
  dump(): Promise<Readable>;
  /** A physical hot copy of the node's server as an xbstream (the agent's `stream_snapshot`): a backup's bytes; with `incrementalLsn`, an incremental one. */
  snapshot(incrementalLsn?: number): Promise<Readable>;
  /** Loads a dump on the node as `login` (the agent's `load_dump`); answers its size in bytes and statements. */
  loadDump(file: Readable, login: Login): Promise<LoadAnswer>;
  /** Builds a new node from a physical backup's xbstream (the agent's `restore_backup`): its GTID position and bytes. */
  restoreBackup(file: Readable, params: ParamsOf<AgentApi['restore_backup']>): Promise<ResultOf<AgentApi['restore_backup']>>;
  /** Applies a part of a binary log file to the node's server (the agent's `replay_binlog`): its position after. */
  replayBinlog(file: Readable, params: ParamsOf<AgentApi['replay_binlog']>): Promise<ResultOf<AgentApi['replay_binlog']>>;
}

/** The agents of the registry's nodes, by address. Throws WRONG_STATE for a node with no address yet. */
export interface AgentDirectory {
  /** The agent of a node with an address. */
  for(node: { id: string; host: string | null; agentPort: number | null }): AgentPort;
}
