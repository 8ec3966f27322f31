import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RpcClient } from '../rpc/client.js';
import { AppError } from '../util/errors.js';
import { readPem } from '../util/pki.js';
import type { FastifyInstance } from 'fastify';
import { agentApi } from '../protocol/agent-api.js';
import { MariadbEngine } from '../engine/mariadb/mariadb-engine.js';
import { createRpcServer } from '../rpc/server.js';
import type { Logger } from '../util/logger.js';
import { AgentStateFile } from './agent-state.js';
import { agentHandlers, MANAGER_PEER } from './handlers.js';
import { PeerGrants } from './peer-grants.js';
import { databaseOsUser, type OsUser } from '../util/os-user.js';
import { createHealthServer, HealthView } from './health.js';

export interface AgentOptions {
  host: string;
  port: number;
  dir: string;
  mysqlHost: string;
  mysqlPort: number;
  /** Port of the plain-HTTP health checks. */
  healthPort: number;
  /**
   * A directory with `ca.crt`, `agent.crt` and `agent.key` (issued by the manager's CA): the
   * API is then served over mutual TLS, to the manager and to peers it authorised only.
   */
  tlsDir?: string;
  /** The OS user MariaDB's programs run as (util/os-user.ts); default: `cps-mysql` when root, else this process's user. */
  dbUser?: OsUser;
  logger: Logger;
}

/** Starts an agent: finds (or leaves uninitialized) its server, then serves the agent API. */
export async function startAgent(options: AgentOptions): Promise<{ app: FastifyInstance; health: FastifyInstance; engine: MariadbEngine }> {
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const engine = new MariadbEngine({ dir, host: options.mysqlHost, port: options.mysqlPort, dbUser: options.dbUser ?? databaseOsUser() });
  const state = new AgentStateFile(dir);
  const adopted = engine.adopt();
  options.logger.info({ dir, adopted, initialized: engine.isInitialized() }, adopted ? 'found running mariadbd' : 'agent starting');
  const pem = options.tlsDir ? readPem({ ca: join(options.tlsDir, 'ca.crt'), cert: join(options.tlsDir, 'agent.crt'), key: join(options.tlsDir, 'agent.key') }) : null;
  const grants = new PeerGrants();
  const peerClient = (host: string, port: number): RpcClient<typeof agentApi> =>
    new RpcClient(agentApi, { url: `${pem ? 'https' : 'http'}://${host}:${port}/`, timeoutMs: 600_000, ...(pem ? { tls: pem } : {}) });
  const view = new HealthView(engine);
  const handlers = agentHandlers({ engine, state, dir, logger: options.logger, grants, peerClient, onChange: () => view.invalidate() });
  const app = await createRpcServer(agentApi, handlers, {
    logger: options.logger,
    ...(pem
      ? {
          tls: { key: pem.key, cert: pem.cert, clientCa: pem.ca },
          authorize: (method: string, peer: string | null) => {
            if (peer === MANAGER_PEER) return;
            if (method === 'stream_snapshot' && grants.allows(peer)) return;
            throw new AppError('FORBIDDEN', `forbidden: ${peer ?? 'this caller'} may not call ${method} on this node`);
          },
        }
      : {}),
  });
  const health = await createHealthServer(view, state);
  await app.listen({ host: options.host, port: options.port });
  await health.listen({ host: options.host, port: options.healthPort });
  options.logger.info({ host: options.host, port: options.port, healthPort: options.healthPort }, 'agent listening');
  return { app, health, engine };
}
