import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { agentApi } from '../protocol/agent-api.js';
import { MariadbEngine } from '../engine/mariadb/mariadb-engine.js';
import { createRpcServer } from '../rpc/server.js';
import type { Logger } from '../util/logger.js';
import { AgentStateFile } from './agent-state.js';
import { agentHandlers } from './handlers.js';
import { createHealthServer } from './health.js';

export interface AgentOptions {
  host: string;
  port: number;
  dir: string;
  mysqlHost: string;
  mysqlPort: number;
  /** Port of the plain-HTTP health checks. */
  healthPort: number;
  logger: Logger;
}

/** Starts an agent: finds (or leaves uninitialized) its server, then serves the agent API. */
export async function startAgent(options: AgentOptions): Promise<{ app: FastifyInstance; health: FastifyInstance; engine: MariadbEngine }> {
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const engine = new MariadbEngine({ dir, host: options.mysqlHost, port: options.mysqlPort });
  const state = new AgentStateFile(dir);
  const adopted = engine.adopt();
  options.logger.info({ dir, adopted, initialized: engine.isInitialized() }, adopted ? 'found running mariadbd' : 'agent starting');
  const app = await createRpcServer(agentApi, agentHandlers({ engine, state, dir, logger: options.logger }), {
    logger: options.logger,
  });
  const health = await createHealthServer(engine, state);
  await app.listen({ host: options.host, port: options.port });
  await health.listen({ host: options.host, port: options.healthPort });
  options.logger.info({ host: options.host, port: options.port, healthPort: options.healthPort }, 'agent listening');
  return { app, health, engine };
}
