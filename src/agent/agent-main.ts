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
import type { OsUser } from '../util/os-user.js';
import type { AgentConfig } from '../config/agent-config.js';
import { createHealthServer, HealthView } from './health.js';

/**
 * Starts an agent from its configuration: finds (or leaves uninitialized) its server, then serves
 * the agent API and the health checks. MariaDB's programs run as `dbUser`.
 */
export async function startAgent(config: AgentConfig, deps: { logger: Logger; dbUser: OsUser }): Promise<{ app: FastifyInstance; health: FastifyInstance; engine: MariadbEngine }> {
  const dir = resolve(config.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const engine = new MariadbEngine({ dir, host: config.mysqlHost, port: config.mysqlPort, dbUser: deps.dbUser });
  const state = new AgentStateFile(dir);
  const adopted = engine.adopt();
  const logger = deps.logger;
  logger.info({ dir, adopted, initialized: engine.isInitialized() }, adopted ? 'found running mariadbd' : 'agent starting');
  const pem = config.tlsDir ? readPem({ ca: join(config.tlsDir, 'ca.crt'), cert: join(config.tlsDir, 'agent.crt'), key: join(config.tlsDir, 'agent.key') }) : null;
  const grants = new PeerGrants();
  const peerClient = (host: string, port: number): RpcClient<typeof agentApi> =>
    new RpcClient(agentApi, { url: `${pem ? 'https' : 'http'}://${host}:${port}/`, timeoutMs: config.peerCallTimeoutMs, ...(pem ? { tls: pem } : {}) });
  const view = new HealthView(engine);
  const handlers = agentHandlers({ engine, state, dir, logger, grants, peerClient, onChange: () => view.invalidate() });
  const app = await createRpcServer(agentApi, handlers, {
    logger,
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
  await app.listen({ host: config.host, port: config.port });
  await health.listen({ host: config.host, port: config.healthPort });
  logger.info({ host: config.host, port: config.port, healthPort: config.healthPort }, 'agent listening');
  return { app, health, engine };
}
