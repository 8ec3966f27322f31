import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { multistream, pino } from 'pino';
import { rotatingLog } from '../util/log-file.js';
import { managerApi } from '../protocol/manager-api.js';
import { createRpcServer } from '../rpc/server.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { LocalCloudDriver } from '../cloud/local/local-driver.js';
import { redactPaths, type Logger } from '../util/logger.js';
import { AgentClients } from './agents.js';
import { managerHandlers } from './api.js';
import { Executor } from './execute.js';
import { ManagerLoop } from './loop.js';
import { Observer } from './observe.js';
import type { CloudDriver } from './ports.js';
import { ManagerCredentials } from './credentials.js';
import { assertTraversable, databaseOsUser } from '../util/os-user.js';
import { isLoopbackAddress } from '../util/net.js';
import { AppError } from '../util/errors.js';

export interface ManagerOptions {
  host: string;
  port: number;
  dataDir: string;
  cloud: string;
  /** Milliseconds between monitoring rounds. */
  monitorIntervalMs: number;
  /** Failed checks in a row before the master counts as unreachable. */
  failoverChecks?: number;
  /** Seconds an automatic failover blocks the next one. */
  failoverBlockSeconds?: number;
  logLevel?: string;
  /** Write the log to the data directory only, not to standard output (the demo). */
  quiet?: boolean;
  /** Serve the API over HTTPS: `true` with a certificate from the service's CA, or given files. */
  tls?: boolean | { certFile: string; keyFile: string };
  /** Allow a non-loopback address without TLS (tokens would cross the network in clear). */
  allowInsecure?: boolean;
}

export interface RunningManager {
  app: FastifyInstance;
  logger: Logger;
  /** The API token clients must send. */
  token: string;
  url: string;
  stop(): Promise<void>;
}

/** How much of the log getLog answers with. */
const LOG_TAIL_BYTES = 64 * 1024;

function makeDriver(cloud: string, dataDir: string): CloudDriver {
  if (cloud === 'local') {
    // The local nodes' servers run as the database's OS user: it must reach their directories.
    assertTraversable(dataDir, databaseOsUser());
    return new LocalCloudDriver({ baseDir: join(dataDir, 'nodes') });
  }
  throw new Error(`unknown cloud '${cloud}' (available: local)`);
}

function readTail(path: string, bytes: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const text = buf.toString('utf8');
    return len < size ? text.slice(text.indexOf('\n') + 1) : text;
  } finally {
    closeSync(fd);
  }
}

/** Starts a manager on its data directory: state, cloud driver, loop and API. */
export async function startManager(o: ManagerOptions): Promise<RunningManager> {
  if (!isLoopbackAddress(o.host) && !o.tls && !o.allowInsecure) {
    throw new AppError('INVALID_PARAMS', `refusing to listen on ${o.host.slice(0, 80)} without TLS: it is not a loopback address and the API token would cross the network in clear (use --tls, or --allow-insecure to force it)`);
  }
  const dataDir = resolve(o.dataDir);
  // Everything the manager writes (state with credentials, logs, node directories) is its owner's only.
  process.umask(0o077);
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  // Others may pass through (the unprivileged user that runs each node's mariadbd reaches its
  // node's directory below), never list or read: every file here is mode 0600.
  chmodSync(dataDir, 0o711);
  const logFile = join(dataDir, 'manager.log');
  const logStream = rotatingLog(logFile);
  const logger = pino(
    { name: 'manager', level: o.logLevel ?? process.env['CPS_MYSQL_LOG_LEVEL'] ?? 'info', redact: { paths: redactPaths(), censor: '[redacted]' } },
    multistream([...(o.quiet ? [] : [{ stream: process.stdout }]), { stream: logStream.stream }]),
  );
  const creds = new ManagerCredentials(dataDir);
  await creds.init();
  const store = new SqliteStore(join(dataDir, 'state.db'));
  const driver = makeDriver(o.cloud, dataDir);
  const agents = new AgentClients(creds.client);
  const failoverChecks = o.failoverChecks ?? 2;
  const failoverBlockSeconds = o.failoverBlockSeconds ?? 300;
  const observer = new Observer(store, driver, agents, logger, {
    counterIntervalMs: o.monitorIntervalMs,
    failoverChecks,
    failoverBlockSeconds,
    ...(process.env['CPS_MYSQL_FAULTS'] ? { faultsFile: process.env['CPS_MYSQL_FAULTS'] } : {}),
  });
  const executor = new Executor(store, driver, agents, {
    failoverBlockSeconds,
    credentialsFor: (id) => creds.forNode(id, [driver.nodeHost ?? '127.0.0.1']),
  });
  const loop = new ManagerLoop(store, observer, executor, logger, { intervalMs: o.monitorIntervalMs });
  const handlers = managerHandlers({ store, driver, agents, observer, loop, readLog: async () => readTail(logFile, LOG_TAIL_BYTES), failoverChecks });
  const apiTls =
    o.tls === true
      ? await creds.forApi([o.host])
      : o.tls
        ? { key: readFileSync(o.tls.keyFile, 'utf8'), cert: readFileSync(o.tls.certFile, 'utf8') }
        : null;
  const app = await createRpcServer(managerApi, handlers, {
    logger,
    authenticate: (headers) => creds.checkBearer(headers['authorization']),
    ...(apiTls ? { tls: { key: apiTls.key, cert: apiTls.cert } } : {}),
  });
  await app.listen({ host: o.host, port: o.port });
  // How clients on this machine find this manager (cps-mysql reads it from its home directory).
  const url = `${apiTls ? 'https' : 'http'}://${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}/`;
  writeFileSync(join(dataDir, 'manager.json'), `${JSON.stringify({ url, pid: process.pid })}\n`);
  const op = store.operation();
  logger.info({ host: o.host, port: o.port, dataDir, cloud: o.cloud, state: store.service()?.state ?? 'INIT', resuming: op?.kind ?? null }, 'manager listening');
  loop.start();
  return {
    app,
    logger,
    token: creds.token,
    url,
    stop: async () => {
      await app.close();
      await loop.stop();
      store.close();
      logStream.stop();
    },
  };
}
