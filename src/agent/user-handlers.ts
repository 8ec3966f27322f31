import type { AgentApi } from '../protocol/agent-api.js';
import type { Engine } from '../engine/engine.js';
import type { Handlers } from '../rpc/server.js';
import { AppError } from '../util/errors.js';
import type { AgentStateFile } from './agent-state.js';

/** The server's and the agent's own account names: never an application account's. */
const OWN = new Set(['root', 'mariadb.sys', 'mysql', 'public']);

type UserMethods = 'create_user' | 'list_users' | 'set_user_password' | 'drop_user';

/**
 * The agent's methods for application accounts (protocol/app-users.ts): on the master only
 * (replicas get the accounts through replication), never on the server's, the agent's or the
 * product's own accounts. Passwords go to the engine, which hashes them; nothing is logged.
 */
export function userHandlers(engine: Engine, state: AgentStateFile): Pick<Handlers<AgentApi>, UserMethods> {
  const refuseOwn = (method: string, user: string, reserved: readonly string[]): void => {
    if (OWN.has(user.toLowerCase()) || user === engine.dbUserName || reserved.includes(user)) {
      throw new AppError('INVALID_PARAMS', `${method}: the account '${user.slice(0, 80)}' is the service's own; it cannot be created, changed or dropped here`);
    }
  };
  const requireMaster = (method: string): void => {
    const s = engine.process().state;
    if (s !== 'running') throw new AppError('WRONG_STATE', `wrong state to ${method}: mariadbd is ${s} (accepted: running)`, { details: { state: s } });
    if (state.get().role !== 'master') throw new AppError('WRONG_STATE', `wrong state to ${method}: this node is not the master; accounts are made on the master (replicas follow)`);
  };
  return {
    create_user: async (p) => {
      refuseOwn('create_user', p.user, p.reserved);
      requireMaster('create_user');
      await engine.appUsers.create({ user: p.user, host: p.host, password: p.password, privileges: p.privileges, ...(p.databases ? { databases: p.databases } : {}) });
      return { user: p.user, host: p.host };
    },
    list_users: async (p) => {
      const s = engine.process().state;
      if (s !== 'running') throw new AppError('WRONG_STATE', `wrong state to list_users: mariadbd is ${s} (accepted: running)`, { details: { state: s } });
      return { users: await engine.appUsers.list(p.reserved) };
    },
    set_user_password: async (p) => {
      refuseOwn('set_user_password', p.user, p.reserved);
      requireMaster('set_user_password');
      await engine.appUsers.setPassword(p.user, p.host, p.password);
      return { user: p.user, host: p.host };
    },
    drop_user: async (p) => {
      refuseOwn('drop_user', p.user, p.reserved);
      requireMaster('drop_user');
      return { user: p.user, host: p.host, dropped: await engine.appUsers.drop(p.user, p.host) };
    },
  };
}
