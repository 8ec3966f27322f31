import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RpcClient } from '../rpc/client.js';
import { AppError, messageOf } from '../util/errors.js';
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
import { IsolationWatch } from './isolation.js';
import { fenceServer } from './fence.js';
import { mysqlGreets } from '../util/mysql-greeting.js';

/** The methods a peer agent may call while the manager's grant lasts (authorize_peer). */
const GRANTED_METHODS: ReadonlySet<string> = new Set(['stream_snapshot', 'send_snapshot']);
/** The methods a peer agent calls, not the manager: they do not count as the manager seen. */
const PEER_METHODS: ReadonlySet<string> = new Set([...GRANTED_METHODS, 'snapshot_sent']);

/**
 * Starts an agent from its configuration: finds (or leaves uninitialized) its server, then serves
 * the agent API and the health checks. MariaDB's programs run as `dbUser`.
 */
export async function startAgent(config: AgentConfig, deps: { logger: Logger; dbUser: OsUser }): Promise<{ app: FastifyInstance; health: FastifyInstance; engine: MariadbEngine }> {
  const dir = resolve(config.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const engine = new MariadbEngine({ dir, host: config.mysqlHost, port: config.mysqlPort, dbUser: deps.dbUser, ...(config.templateDir ? { templateRoot: resolve(config.templateDir) } : {}) });
  const state = new AgentStateFile(dir);
  const adopted = engine.adopt();
  const logger = deps.logger;
  logger.info({ dir, adopted, initialized: engine.isInitialized() }, adopted ? 'found running mariadbd' : 'agent starting');
  const tlsDir = config.tlsDir ? resolve(config.tlsDir) : null;
  const tlsFiles = tlsDir ? { ca: join(tlsDir, 'ca.crt'), cert: join(tlsDir, 'agent.crt'), key: join(tlsDir, 'agent.key') } : null;
  const pem = tlsFiles ? readPem(tlsFiles) : null;
  const grants = new PeerGrants();
  const peerClient = (host: string, port: number): RpcClient<typeof agentApi> =>
    new RpcClient(agentApi, { url: `${pem ? 'https' : 'http'}://${host}:${port}/`, timeoutMs: config.peerCallTimeoutMs, ...(pem ? { tls: pem } : {}) });
  const view = new HealthView(engine);
  // A master cut off from the manager and from every replica fences itself (isolation.ts).
  const watch = new IsolationWatch({
    engine,
    state,
    logger,
    greets: mysqlGreets,
    fence: async (deadlineMs) => {
      try {
        return await fenceServer(engine, state, logger, deadlineMs);
      } finally {
        view.invalidate();
      }
    },
  });
  const handlers = agentHandlers({ engine, state, dir, logger, grants, peerClient, tlsFiles, onChange: () => view.invalidate(), onLease: (replicas) => watch.leaseRenewed(replicas) });
  // Every call but a peer's snapshot pull comes from the manager (with TLS, only it may make them).
  for (const [name, fn] of Object.entries(handlers) as [string, (...a: unknown[]) => unknown][]) {
    if (PEER_METHODS.has(name)) continue;
    (handlers as Record<string, unknown>)[name] = (...a: unknown[]) => {
      watch.managerSeen();
      return fn(...a);
    };
  }
  const app = await createRpcServer(agentApi, handlers, {
    logger,
    ...(pem
      ? {
          tls: { key: pem.key, cert: pem.cert, clientCa: pem.ca },
          // A removed host's certificate is still signed by the CA: its serial is refused (set_denied_serials).
          authenticate: (_headers: unknown, _peer: string | null, subject: Readonly<Record<string, string>> | null) => !state.get().deniedSerials.includes(subject?.['#serial'] ?? ''),
          authorize: (method: string, peer: string | null) => {
            if (peer === MANAGER_PEER) return;
            if (GRANTED_METHODS.has(method) && grants.allows(peer)) return;
            // Only the peer that started a send learns how it ended (the handler checks the id is its own).
            if (method === 'snapshot_sent' && peer !== null) return;
            throw new AppError('FORBIDDEN', `forbidden: ${peer ?? 'this caller'} may not call ${method} on this node`);
          },
        }
      : {}),
  });
  app.addHook('onClose', async () => watch.stop());
  const health = await createHealthServer(view, state);
  await app.listen({ host: config.host, port: config.port });
  await health.listen({ host: config.host, port: config.healthPort });
  watch.start();
  logger.info({ host: config.host, port: config.port, healthPort: config.healthPort }, 'agent listening');
  // A new node's agent makes the host's data-directory template if it is missing, while the
  // manager gets to init_server (which copies it, or waits for it) or provisions it otherwise.
  if (!engine.isInitialized()) {
    engine.prepareTemplate().catch((err: unknown) => logger.warn({ err: messageOf(err) }, 'cannot make the data-directory template; new servers run mariadb-install-db'));
  }
  return { app, health, engine };
}
