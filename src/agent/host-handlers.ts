import type { AgentApi } from '../protocol/agent-api.js';
import type { Handlers } from '../rpc/server.js';
import type { AgentStateFile } from './agent-state.js';

/**
 * The agent's methods about its host and its manager rather than its server: the manager's lease
 * on a master (`renew_lease`, handed to the isolation watch through `onLease`; answers whether the
 * node is fenced) and the deny list of removed hosts' certificate serials (`set_denied_serials`,
 * kept in agent.json across restarts).
 */
export function hostHandlers(state: AgentStateFile, onLease?: (replicas: { host: string; port: number }[]) => void): Pick<Handlers<AgentApi>, 'renew_lease' | 'set_denied_serials'> {
  return {
    renew_lease: async (params) => {
      onLease?.(params.replicas);
      return { fenced: state.get().fenced };
    },
    set_denied_serials: async (params) => {
      await state.update({ deniedSerials: [...new Set(params.serials)] });
      return { serials: state.get().deniedSerials };
    },
  };
}
