import { join } from 'node:path';
import type { Role, ServerSettings } from '../protocol/agent-api.js';
import { readJsonFile, writeJsonFile } from '../util/json-file.js';

/** What an agent remembers about its node across restarts (`<dir>/agent.json`). */
export interface AgentState {
  /** The server_id it was initialised with, or null before. */
  serverId: number | null;
  /** The settings its server was given. */
  settings: ServerSettings;
  /** What the manager last made it. */
  role: Role;
  /** The master this node was last told to follow (no password kept here). */
  masterHost: string | null;
  /** The MySQL port of that master. */
  masterPort: number | null;
  /**
   * Fenced as a lost master by a failover: it takes no writes (`/primary` answers 503, the server
   * is kept read-only) until the manager makes it a replica or a master again.
   */
  fenced: boolean;
  /** Certificate serials (hex, upper case) of removed hosts: calls from them are refused. */
  deniedSerials: string[];
  /** The GTID position of the snapshot this node was restored from, until it is attached. */
  restoredGtid: string | null;
  /**
   * A `provision_from` began and the node is not attached yet: a data directory it holds is a copy
   * that was never served from (a failed attempt's), which the next attempt may replace.
   */
  provisioning: boolean;
}

const INITIAL: AgentState = { serverId: null, settings: {}, role: 'none', masterHost: null, masterPort: null, restoredGtid: null, provisioning: false, fenced: false, deniedSerials: [] };

/** The agent's state, read once from `<dir>/agent.json` and written back (atomically) on every change. */
export class AgentStateFile {
  private readonly path: string;
  private value: AgentState;

  constructor(dir: string) {
    this.path = join(dir, 'agent.json');
    this.value = { ...INITIAL, ...(readJsonFile<Partial<AgentState>>(this.path) ?? {}) };
  }

  /** The state as it is now. */
  get(): AgentState {
    return this.value;
  }

  /** Changes the state and writes it to disk before resolving; returns the new state. */
  async update(patch: Partial<AgentState>): Promise<AgentState> {
    this.value = { ...this.value, ...patch };
    await writeJsonFile(this.path, this.value);
    return this.value;
  }
}
