import type { AgentStatus } from '../protocol/agent-api.js';
import type { Engine, EngineSettings } from '../engine/engine.js';
import type { Logger } from '../util/logger.js';
import type { Mutex } from '../util/mutex.js';
import type { AgentStateFile } from './agent-state.js';

/**
 * What every group of the agent's handlers works with (handlers.ts builds it once): the server,
 * the node's memory, the log, the lock state-changing work runs under, and the status answer.
 */
export interface HandlerCore {
  /** The door to this node's server. */
  engine: Engine;
  /** What the agent remembers of its node. */
  state: AgentStateFile;
  /** Where the agent logs. */
  logger: Logger;
  /** The agent's lock for state-changing work. */
  lock: Mutex;
  /** The agent's status, as get_status answers it. */
  status: () => Promise<AgentStatus>;
  /** The engine settings for a server id and stored settings. */
  settingsOf: (serverId: number, s: Record<string, unknown>) => EngineSettings;
}
