import { join } from 'node:path';
import type { Role, ServerSettings } from '../protocol/agent-api.js';
import { readJsonFile, writeJsonFile } from '../util/json-file.js';

/** What an agent remembers about its node across restarts (`<dir>/agent.json`). */
export interface AgentState {
  serverId: number | null;
  settings: ServerSettings;
  role: Role;
  /** The master this node was last told to follow (no password kept here). */
  masterHost: string | null;
  masterPort: number | null;
  /** The GTID position of the snapshot this node was restored from, until it is attached. */
  restoredGtid: string | null;
}

const INITIAL: AgentState = { serverId: null, settings: {}, role: 'none', masterHost: null, masterPort: null, restoredGtid: null };

export class AgentStateFile {
  private readonly path: string;
  private value: AgentState;

  constructor(dir: string) {
    this.path = join(dir, 'agent.json');
    this.value = { ...INITIAL, ...(readJsonFile<Partial<AgentState>>(this.path) ?? {}) };
  }

  get(): AgentState {
    return this.value;
  }

  async update(patch: Partial<AgentState>): Promise<AgentState> {
    this.value = { ...this.value, ...patch };
    await writeJsonFile(this.path, this.value);
    return this.value;
  }
}
