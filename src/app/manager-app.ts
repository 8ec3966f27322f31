import { warmUpHostTemplate } from './template-warm-up.js';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { multistream, pino } from 'pino';
import type { CloudDriver } from '../cloud/driver.js';
import { LocalCloudDriver } from '../cloud/local/local-driver.js';
import { StaticCloudDriver, type PooledHost } from '../cloud/static/static-driver.js';
import type { HostStore } from '../store/host-store.js';
import type { AgentDirectory } from '../manager/agent-port.js';
import { joinHost, joinRequest } from '../manager/join.js';
import { parseParams } from '../rpc/params.js';
import { spkiHash } from '../util/pki.js';
import type { ManagerConfig } from '../config/manager-config.js';
import { RpcAgents } from '../manager/agents.js';
import { managerHandlers } from '../manager/api.js';
import { systemClock } from '../manager/clock.js';
import { Executor } from '../manager/execute/executor.js';
import { ManagerLoop } from '../manager/loop.js';
import { LeaseKeeper } from '../manager/lease.js';
import { CONSOLE_HEADER } from '../protocol/console.js';
import { isConsolePath, registerConsole } from './console-routes.js';
import { RefusalLog } from '../rpc/refusal-log.js';
import { FsBackupStore } from '../store/fs-backup-store.js';
import { BackupRunner } from '../manager/backups.js';
import { ArchiveKeeper } from '../manager/archive/keeper.js';
import { BackupSchedule } from '../manager/backup-schedule.js';
import { FsBinlogArchive } from '../store/fs-binlog-archive.js';
import type { StepContext } from '../manager/execute/context.js';
import { startMetricsListener } from './metrics-listener.js';
import { ConsoleSessions } from './console-sessions.js';
import { serviceMetrics } from '../manager/metrics.js';
import { VERSION } from '../version.js';
import { Observer } from '../manager/observe.js';
import { managerApi } from '../protocol/manager-api.js';
import { createRpcServer } from '../rpc/server.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { AppError } from '../util/errors.js';
import { readTail, rotatingLog, type RotatingLog } from '../util/log-file.js';
import { redactPaths, type Logger } from '../util/logger.js';
import { mysqlGreets } from '../util/mysql-greeting.js';
import { isLoopbackAddress } from '../util/net.js';
import { assertTraversable, databaseOsUser } from '../util/os-user.js';
import { ManagerCredentials } from './credentials.js';
import { InjectedFaults } from './faults.js';

/**
 * The composition root of a manager process: it builds the store, the cloud driver, the agents'
 * directory, the loop and the API from one resolved configuration, and starts them. Nothing
 * below it reads the environment or chooses an implementation.
 */

export interface RunningManager {
  /** The API server. */
  app: FastifyInstance;
  /** The manager's logger. */
  logger: Logger;
  /** The API token clients must send. */
  token: string;
  /** Where the API listens. */
  url: string;
  /** Closes the API, stops the loop after its round and closes the store; the nodes keep running. */
  stop(): Promise<void>;
}

/** The manager's log file, in its data directory. */
const MANAGER_LOG = 'manager.log';

/** How much of the log getLog answers with. */
const LOG_TAIL_BYTES = 64 * 1024;

/** Where the local cloud keeps its host's data-directory templates (the agents' `--template-dir`). */
const templateRootOf = (dataDir: string): string => join(dataDir, 'datadir-templates');

function makeDriver(config: ManagerConfig, dataDir: string, hosts: HostStore, agents: AgentDirectory): CloudDriver {
  if (config.cloud === 'local') {
    // The local nodes' servers run as the database's OS user: it must reach their directories.
    assertTraversable(dataDir, databaseOsUser(config.dbOsUser));
    return new LocalCloudDriver({ baseDir: join(dataDir, 'nodes'), templateDir: templateRootOf(dataDir) });
  }
  if (config.cloud === 'static') {
    // Hosts join over the network with a token, pinning the CA: the API must be TLS.
    if (config.tls.kind === 'off') throw new AppError('INVALID_PARAMS', 'the static cloud needs the API over TLS (--tls): hosts join it over the network');
    const agentOf = (h: PooledHost) => agents.for({ id: h.address, host: h.address, agentPort: h.agentPort });
    return new StaticCloudDriver(hosts, {
      // The ping brings the host's deny list up to date too (a host that joined after a removal, or missed the push).
      ping: async (h) => void (await agentOf(h).call('set_denied_serials', { serials: hosts.deniedSerials() }, { timeoutMs: 5000 })),
      wipe: async (h) => void (await agentOf(h).call('wipe', {}, { timeoutMs: 120_000 })),
    });
  }
  throw new AppError('INVALID_PARAMS', `unknown cloud '${config.cloud.slice(0, 32)}' (available: local, static)`);
}

/** Starts a manager on its data directory: state, cloud driver, loop and API. Throws INVALID_PARAMS for a refused configuration. */
export async function startManager(config: ManagerConfig): Promise<RunningManager> {
  if (!isLoopbackAddress(config.host) && config.tls.kind === 'off' && !config.allowInsecure) {
    throw new AppError('INVALID_PARAMS', `refusing to listen on ${config.host.slice(0, 80)} without TLS: it is not a loopback address and the API token would cross the network in clear (use --tls, or --allow-insecure to force it)`);
  }
  const dataDir = resolve(config.dataDir);
  // Everything the manager writes (state with credentials, logs, node directories) is its owner's only.
  process.umask(0o077);
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  // Others may pass through (the unprivileged user that runs each node's mariadbd reaches its
  // node's directory below), never list or read: every file here is mode 0600.
  chmodSync(dataDir, 0o711);
  const logStream = rotatingLog(join(dataDir, MANAGER_LOG));
  const logger = pino(
    { name: 'manager', level: config.logLevel, redact: { paths: redactPaths(), censor: '[redacted]' } },
    multistream([...(config.quiet ? [] : [{ stream: process.stdout }]), { stream: logStream.stream }]),
  );
  // The local cloud's nodes live on this machine: its data-directory template is made from the
  // start, before the credentials, the state and the API (~0.15 s sooner for a `startup` sent as
  // soon as the manager answers, as scripts/demo.sh does), rather than when the first service's
  // first node needs it. stop() waits for it (a second or so), and so does a failed start.
  const warmUp = config.cloud === 'local' ? warmUpHostTemplate(templateRootOf(dataDir), databaseOsUser(config.dbOsUser), logger) : Promise.resolve();
  try {
    return await startParts(config, dataDir, logger, logStream, warmUp);
  } catch (err) {
    await warmUp;
    logStream.stop();
    throw err;
  }
}

/** startManager's parts after its directory, log and template warm-up: credentials, state, driver, loop, API. Throws what startManager throws. */
async function startParts(config: ManagerConfig, dataDir: string, logger: Logger, logStream: RotatingLog, warmUp: Promise<void>): Promise<RunningManager> {
  const creds = new ManagerCredentials(dataDir);
  await creds.init();
  const store = new SqliteStore(join(dataDir, 'state.db'));
  const faults = config.faultsFile ? new InjectedFaults(config.faultsFile) : null;
  const realAgents = new RpcAgents(creds.client, config.agentCallTimeoutMs);
  const agents = faults ? faults.agents(realAgents) : realAgents;
  const driver = makeDriver(config, dataDir, store.hostStore, agents);
  const hosts = config.cloud === 'static' ? store.hostStore : null;
  const nodeAt = (host: string, port: number): string | null => store.nodes().find((n) => n.host === host && n.mysqlPort === port)?.id ?? null;
  const probe = faults ? faults.probe(mysqlGreets, nodeAt) : mysqlGreets;
  const clock = systemClock;
  const observer = new Observer(
    { store, driver, agents, probe, clock, logger },
    {
      // Counters are sampled about once a second whatever the monitoring interval (the performance windows' resolution).
      counterIntervalMs: Math.max(1000, config.monitorIntervalMs),
      failoverChecks: config.failoverChecks,
      failoverBlockSeconds: config.failoverBlockSeconds,
      pollTimeoutMs: config.pollTimeoutMs,
      probeTimeoutMs: config.probeTimeoutMs,
    },
  );
  const executorCtx: StepContext = {
    store,
    driver,
    agents,
    timeouts: { switchoverTimeoutSeconds: config.switchoverTimeoutSeconds, drainSeconds: config.drainSeconds, fenceMs: config.fenceMs, snapshotGrantSeconds: config.snapshotGrantSeconds },
    // Static hosts made their own keys and got their certificates when they joined.
    credentialsFor: hosts ? null : (id) => creds.forNode(id, [driver.nodeHost ?? '127.0.0.1']),
    snapshotChannel: config.snapshotChannel,
  };
  const executor = new Executor(executorCtx);
  const loop = new ManagerLoop({ store, observer, executor, logger, clock }, { intervalMs: config.monitorIntervalMs, retryDelayMs: config.retryDelayMs, suspectRecheckMs: config.suspectRecheckMs });
  // Backups: kept in the store's directory; what a manager that died midway left is removed now.
  const backupDir = config.backupDir ?? join(dataDir, 'backups');
  const backupStore = new FsBackupStore(backupDir);
  const cleaned = await backupStore.cleanup();
  if (cleaned > 0) logger.warn({ removed: cleaned }, 'removed backups a previous run left incomplete');
  // Retention follows every backup that succeeds (the schedule is made below, with the archive).
  let backupSchedule: BackupSchedule | null = null;
  const backupRunner = new BackupRunner({ store, backups: backupStore, agents, latest: () => observer.latest, counterHistory: () => observer.counterHistory(), clock, logger, afterBackup: async () => backupSchedule?.prune() });
  // Point-in-time recovery: the masters' binary logs archived beside the backups (docs/backups.md).
  mkdirSync(join(dataDir, 'run'), { recursive: true, mode: 0o700 });
  const pitr = new ArchiveKeeper({ store, backups: backupStore, archive: new FsBinlogArchive(backupDir), latest: () => observer.latest, backupUnderWay: () => backupRunner.running !== null, runDir: join(dataDir, 'run'), clock, logger });
  executorCtx.pitr = pitr;
  backupSchedule = new BackupSchedule({ store, backups: backupStore, runner: backupRunner, policyFile: join(dataDir, 'backup-policy.json'), pruneArchive: (gtid) => pitr.pruneBefore(gtid), clock, logger });
  const handlers = managerHandlers({
    store,
    driver,
    agents,
    observer,
    loop,
    clock,
    readLog: async () => readTail(join(dataDir, MANAGER_LOG), LOG_TAIL_BYTES),
    failoverChecks: config.failoverChecks,
    loopWaitMs: config.loopWaitMs,
    hosts,
    backups: backupRunner,
    backupSchedule,
    pitr,
    join: { managerUrl: `https://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`, caHash: spkiHash(creds.caCertificate()) },
  });
  const apiTls =
    config.tls.kind === 'ca'
      ? // The chain goes with the certificate: a joining host pins the CA by its hash.
        await creds.forApi([config.host]).then((pem) => ({ ...pem, cert: `${pem.cert.trim()}\n${creds.caCertificate().trim()}\n` }))
      : config.tls.kind === 'files'
        ? { key: readFileSync(config.tls.keyFile, 'utf8'), cert: readFileSync(config.tls.certFile, 'utf8') }
        : null;
  const sessions = new ConsoleSessions(apiTls !== null);
  const loginRefusals = new RefusalLog(logger);
  const app = await createRpcServer(managerApi, handlers, {
    logger,
    // With TLS, a client certificate of the service CA with ConPaaS's user role stands for the token.
    // The web console's session stands for it too: for reads with its cookie alone (SameSite=Strict
    // keeps it from other sites), for changes only with the console's header as well, which no
    // other site's page can send (docs/console.md, "Security").
    authenticate: (headers, _peer, subject, httpMethod) =>
      creds.checkBearer(headers['authorization']) ||
      ManagerCredentials.certificateAllowed(subject) ||
      ((httpMethod === 'GET' || headers[CONSOLE_HEADER] === '1') && sessions.live(headers['cookie'], clock.now())),
    publicPath: isConsolePath,
    browserHome: '/ui/',
    ...(apiTls ? { tls: { key: apiTls.key, cert: apiTls.cert, clientCa: creds.caCertificate(), clientCertOptional: true } } : {}),
    ...(hosts
      ? {
          openRoutes: {
            // A host joins with its one-time token (its credential); nothing else is served without one.
            '/join': async (body) => joinHost({ hosts, ca: { ...creds.caFiles(), pem: creds.caCertificate() }, workDir: join(dataDir, 'pki', 'joins'), now: () => clock.now() }, parseParams('join', joinRequest, body)),
          },
        }
      : {}),
  });
  registerConsole(app, { sessions, tokenMatches: (token) => creds.checkBearer(`Bearer ${token}`), now: () => clock.now(), refused: () => loginRefusals.refused({ code: 'UNAUTHORIZED', url: '/ui/session' }) });
  // Prometheus metrics, behind the same credentials as the API (docs/metrics.md, "Prometheus").
  const backupFigures = async (): Promise<{ count: number; newestEnd: number | null; windowBehind: number | null }> => {
    const all = await backupStore.list();
    const newest = all.reduce<number | null>((m, b) => Math.max(m ?? 0, Date.parse(b.endedAt) / 1000), null);
    return { count: all.length, newestEnd: newest, windowBehind: pitr.window.secondsBehind };
  };
  const metrics = serviceMetrics({ store, latest: () => observer.latest, counterHistory: () => observer.counterHistory(), checks: () => observer.checks, refusals: () => loop.refusals, version: VERSION, service: 'mysql', backups: backupFigures });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.text()));
  await app.listen({ host: config.host, port: config.port });
  // Or also, without the token, where the operator binds it (--metrics-address).
  const metricsApp = config.metricsAddress ? await startMetricsListener(config.metricsAddress, metrics).catch(async (e: unknown) => {
    await app.close();
    throw e;
  }) : null;
  // How clients on this machine find this manager (cps-mysql reads it from its home directory).
  const url = `${apiTls ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}/`;
  writeFileSync(join(dataDir, 'manager.json'), `${JSON.stringify({ url, pid: process.pid })}\n`);
  const op = store.operation();
  logger.info({ host: config.host, port: config.port, dataDir, cloud: config.cloud, state: store.service()?.state ?? 'INIT', resuming: op?.kind ?? null }, 'manager listening');
  loop.start();
  // Renewed twice per monitoring interval, at most every 250 ms: well within the agents' 1 s lease.
  const lease = new LeaseKeeper({ store, agents, logger }, Math.min(250, Math.max(100, Math.floor(config.monitorIntervalMs / 2))));
  lease.start();
  pitr.start();
  backupSchedule.start();
  return {
    app,
    logger,
    token: creds.token,
    url,
    stop: async () => {
      lease.stop();
      await metricsApp?.close();
      await app.close();
      await loop.stop();
      backupSchedule.close();
      await pitr.close();
      await warmUp;
      store.close();
      logStream.stop();
    },
  };
}
