import { readFileSync } from 'node:fs';
import { AppError } from '../util/errors.js';
import type { AgentDirectory, AgentPort } from '../manager/agent-port.js';
import type { LivenessProbe } from '../manager/observe.js';

/**
 * Test fault injection, wired in only when `CPS_MYSQL_FAULTS` names a file (config.faultsFile):
 * `{"unreachable": ["node-1"]}` makes every call of the manager to those nodes' agents, and its
 * check of their servers, fail as if the network between them was cut. The file is read at most
 * every 100 ms. Nothing of this is in the manager's own code.
 */
export class InjectedFaults {
  private cached: { at: number; ids: Set<string> } = { at: 0, ids: new Set() };

  constructor(private readonly file: string) {}

  private unreachable(): Set<string> {
    if (Date.now() - this.cached.at < 100) return this.cached.ids;
    let ids = new Set<string>();
    try {
      const f = JSON.parse(readFileSync(this.file, 'utf8')) as { unreachable?: unknown };
      ids = new Set(Array.isArray(f.unreachable) ? f.unreachable.map(String) : []);
    } catch {
      // no file, or not JSON: no fault
    }
    this.cached = { at: Date.now(), ids };
    return ids;
  }

  /** The agents, with those of unreachable nodes failing every call. */
  agents(inner: AgentDirectory): AgentDirectory {
    return {
      for: (node) => {
        const real = inner.for(node);
        const cut = (): boolean => this.unreachable().has(node.id);
        const fail = (): Promise<never> => Promise.reject(new AppError('PEER_FAILED', `${node.id}: unreachable (fault injected)`));
        const port: AgentPort = {
          call: (name, params, options) => (cut() ? fail() : real.call(name, params, options)),
          dump: () => (cut() ? fail() : real.dump()),
          snapshot: (lsn) => (cut() ? fail() : real.snapshot(lsn)),
          loadDump: (file, login) => (cut() ? fail() : real.loadDump(file, login)),
          restoreBackup: (file, params) => (cut() ? fail() : real.restoreBackup(file, params)),
          replayBinlog: (file, params) => (cut() ? fail() : real.replayBinlog(file, params)),
        };
        return port;
      },
    };
  }

  /** The liveness probe, failing for the servers of unreachable nodes (found by their address). */
  probe(inner: LivenessProbe, nodeAt: (host: string, port: number) => string | null): LivenessProbe {
    return async (host, port, timeoutMs) => {
      const id = nodeAt(host, port);
      return id !== null && this.unreachable().has(id) ? false : inner(host, port, timeoutMs);
    };
  }
}
