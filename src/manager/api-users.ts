import { USER_PRIVILEGES } from '../protocol/app-users.js';
import type { ManagerApi } from '../protocol/manager-api.js';
import type { Handlers } from '../rpc/server.js';
import type { NodeRecord, StateStore } from '../store/store.js';
import { AppError } from '../util/errors.js';
import type { AgentDirectory } from './agent-port.js';

type UserMethods = 'create_user' | 'list_users' | 'set_user_password' | 'drop_user';

/**
 * The manager's methods for application accounts: each runs on the master's agent (the
 * accounts replicate), naming the product's own accounts (replication, the service user) for
 * the agent to refuse. Events say what changed, never a password.
 */
export function userApi(deps: { store: StateStore; agents: AgentDirectory; readyMaster: () => NodeRecord; requireState: (method: UserMethods) => void }): Pick<Handlers<ManagerApi>, UserMethods> {
  const { store, agents } = deps;
  const reserved = (): string[] => {
    const s = store.service();
    if (!s) throw new AppError('WRONG_STATE', 'the service has not been started: call startup first', { details: { state: 'INIT' } });
    return [s.replUser, s.user];
  };
  const master = () => agents.for(deps.readyMaster());
  const account = (user: string, host: string): string => `'${user.slice(0, 80)}'@'${host}'`;
  return {
    create_user: async (p) => {
      deps.requireState('create_user');
      const host = p.host ?? '%';
      const r = await master().call('create_user', { user: p.user, host, password: p.password, privileges: p.privileges, ...(p.databases ? { databases: p.databases } : {}), reserved: reserved() });
      store.addEvent(`account ${account(p.user, host)} created: ${p.privileges.length === USER_PRIVILEGES.length ? 'ALL' : p.privileges.join(', ')} on ${p.databases ? p.databases.join(', ') : 'every application database'}`);
      return r;
    },
    list_users: async () => master().call('list_users', { reserved: reserved() }),
    set_user_password: async (p) => {
      deps.requireState('set_user_password');
      const host = p.host ?? '%';
      const r = await master().call('set_user_password', { user: p.user, host, password: p.password, reserved: reserved() });
      store.addEvent(`password of account ${account(p.user, host)} changed`);
      return r;
    },
    drop_user: async (p) => {
      deps.requireState('drop_user');
      const host = p.host ?? '%';
      const r = await master().call('drop_user', { user: p.user, host, reserved: reserved() });
      if (!r.dropped) throw new AppError('NOT_FOUND', `drop_user: no account ${account(p.user, host)}`);
      store.addEvent(`account ${account(p.user, host)} dropped`);
      return { user: r.user, host: r.host };
    },
  };
}
