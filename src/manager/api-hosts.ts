import type { HostInfo, ManagerApi } from '../protocol/manager-api.js';
import type { Handlers } from '../rpc/server.js';
import type { HostStore } from '../store/host-store.js';
import type { StateStore } from '../store/store.js';
import { AppError } from '../util/errors.js';
import type { AgentDirectory } from './agent-port.js';
import type { Clock } from './clock.js';
import { DEFAULT_TOKEN_TTL_SECONDS, mintJoinToken } from './join.js';

type HostMethods = 'create_join_token' | 'list_hosts' | 'remove_host';

/** What the host methods work with: the static cloud's records (null on another cloud) and how a joining host reaches this manager. */
export interface HostApiDeps {
  /** The static cloud's hosts and tokens; null when the manager runs another cloud. */
  hosts: HostStore | null;
  /** The service's records (events). */
  store: StateStore;
  /** The agents (reachability, the deny list). */
  agents: AgentDirectory;
  /** The time. */
  clock: Clock;
  /** The manager's API URL as hosts reach it, and the service CA's pin (`sha256:…`). */
  join: { managerUrl: string; caHash: string };
}

/**
 * The manager's methods for hosts of the static cloud (docs/hosts.md): minting one-time join
 * tokens, listing hosts, removing one (its certificate goes on the deny list every agent checks).
 */
export function hostApi(deps: HostApiDeps): Pick<Handlers<ManagerApi>, HostMethods> {
  const hosts = (): HostStore => {
    if (!deps.hosts) throw new AppError('WRONG_STATE', "hosts join only a manager of the static cloud (cps-mysql manager --cloud static --tls)");
    return deps.hosts;
  };
  return {
    create_join_token: async (p) => {
      const h = hosts();
      const ttl = p.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
      const { token, expiresAt } = mintJoinToken(h, deps.clock.now(), ttl, p.address ?? null);
      deps.store.addEvent(`join token ${token.split('.')[0]} minted${p.address ? ` for ${p.address}` : ''}, valid until ${expiresAt}`);
      // The token goes in the environment, not on the argument list, where ps would show it.
      const command = `CPS_MYSQL_JOIN_TOKEN=${token} cps-mysql agent join --manager ${deps.join.managerUrl} --ca-hash ${deps.join.caHash} --dir /var/lib/cps-mysql${p.address ? ` --host ${p.address}` : ''}`;
      return { token, expiresAt, caHash: deps.join.caHash, command };
    },
    list_hosts: async () => {
      const all = hosts().hosts();
      const answers = await Promise.all(
        all.map(async (h) => {
          try {
            const r = await deps.agents.for({ id: h.address, host: h.address, agentPort: h.agentPort }).call('check_agent_process', {}, { timeoutMs: 2000 });
            hosts().sawHost(h.address, new Date(deps.clock.now()).toISOString());
            return { ok: true, version: r.version };
          } catch {
            return { ok: false, version: null };
          }
        }),
      );
      const list: HostInfo[] = all.map((h, i) => ({
        address: h.address,
        state: !answers[i]!.ok ? 'unreachable' : h.nodeId ?? 'free',
        node: h.nodeId,
        agentPort: h.agentPort,
        mysqlPort: h.mysqlPort,
        lastSeen: answers[i]!.ok ? new Date(deps.clock.now()).toISOString() : h.lastSeen,
        agentVersion: answers[i]!.version ?? h.agentVersion,
      }));
      return { hosts: list };
    },
    remove_host: async (p) => {
      const h = hosts();
      const host = h.host(p.address);
      if (!host) throw new AppError('NOT_FOUND', `remove_host: no host ${p.address} (hosts: ${h.hosts().map((x) => x.address).join(', ') || 'none'})`);
      if (host.nodeId) throw new AppError('WRONG_STATE', `remove_host: ${p.address} holds ${host.nodeId}; remove that node first (remove_nodes)`);
      h.removeHost(p.address, new Date(deps.clock.now()).toISOString());
      const denied = h.deniedSerials();
      // Every remaining agent refuses the removed host's certificate from now on (best effort; a
      // host that does not answer gets the list with the next change).
      await Promise.allSettled(h.hosts().map((x) => deps.agents.for({ id: x.address, host: x.address, agentPort: x.agentPort }).call('set_denied_serials', { serials: denied }, { timeoutMs: 5000 })));
      deps.store.addEvent(`host ${p.address} removed; its certificate (serial ${host.certSerial}) is denied`);
      return { address: p.address, deniedSerial: host.certSerial };
    },
  };
}
