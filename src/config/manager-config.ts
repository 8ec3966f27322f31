import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AppError } from '../util/errors.js';
import { DEFAULT_DB_OS_USER } from '../util/os-user.js';

/**
 * Everything a manager process is configured with, resolved once at start (STYLE.md): defaults,
 * then a JSON config file (`--config`), then the environment, then the command line; inner code
 * gets this fully defaulted value and reads no environment of its own.
 */
export interface ManagerConfig {
  /** The address the API listens on. */
  host: string;
  /** The API's port. */
  port: number;
  /** The state, log, PKI and (local cloud) nodes' directory. */
  dataDir: string;
  /** The cloud driver's name (`local`). */
  cloud: string;
  /** Milliseconds between monitoring rounds. */
  monitorIntervalMs: number;
  /** Milliseconds before a failed step is tried again. */
  retryDelayMs: number;
  /** Milliseconds between checks while the master is suspected. */
  suspectRecheckMs: number;
  /** Failed checks in a row before the master counts as unreachable. */
  failoverChecks: number;
  /** Seconds an automatic failover blocks the next one. */
  failoverBlockSeconds: number;
  /** pino's level (`info`, `debug`…). */
  logLevel: string;
  /** Write the log to the data directory only, not to standard output (the demo). */
  quiet: boolean;
  /** HTTPS for the API: none, a certificate from the service's CA, or the operator's files. */
  tls: { kind: 'off' } | { kind: 'ca' } | { kind: 'files'; certFile: string; keyFile: string };
  /** Allow a non-loopback address without TLS (tokens would cross the network in clear). */
  allowInsecure: boolean;
  /** Test fault injection: a JSON file naming nodes the manager must treat as unreachable (`CPS_MYSQL_FAULTS`); null in production. */
  faultsFile: string | null;
  /** Milliseconds a call to an agent may take unless it says otherwise (provisioning a large node is long). */
  agentCallTimeoutMs: number;
  /** Milliseconds a monitoring poll of one agent may take. */
  pollTimeoutMs: number;
  /** Milliseconds the manager waits for a silent master's server to greet it. */
  probeTimeoutMs: number;
  /** Seconds a switchover may hold writes blocked while its candidate catches up; past them the old master takes writes again. */
  switchoverTimeoutSeconds: number;
  /** Seconds a failover's candidate may take to apply what it received before the next candidate is tried. */
  drainSeconds: number;
  /** Milliseconds a former master has to answer while it is fenced. */
  fenceMs: number;
  /** Seconds a new node has to start pulling its snapshot. */
  snapshotGrantSeconds: number;
  /**
   * Whether new nodes take their snapshot over a data channel (socat: TLS between hosts, a Unix
   * socket on one host; docs/agent.md) rather than the agents' HTTPS API. false where a firewall
   * lets only the agent port through: the copy then takes HTTPS at once instead of after up to 15 s.
   */
  snapshotChannel: boolean;
  /** Milliseconds a call that waits for the loop (list_nodes, set_password) waits at most. */
  loopWaitMs: number;
  /** The OS user the local nodes' mariadbd runs as (when the manager runs as root). */
  dbOsUser: string;
  /**
   * `HOST:PORT` (`[v6]:PORT`) of a second listener that serves only `GET /metrics`, without the
   * API's credentials, for a Prometheus on a network the operator trusts; null: metrics are on
   * the API port, behind the token.
   */
  metricsAddress: string | null;
  /** Where backups are kept (any mounted path); null: `D/backups` (docs/backups.md). */
  backupDir: string | null;
}

/** The manager's defaults (port and data directory have none). */
export const MANAGER_DEFAULTS: Omit<ManagerConfig, 'port' | 'dataDir'> = {
  host: '127.0.0.1',
  cloud: 'local',
  monitorIntervalMs: 500,
  retryDelayMs: 1000,
  suspectRecheckMs: 150,
  failoverChecks: 2,
  failoverBlockSeconds: 300,
  logLevel: 'info',
  quiet: false,
  tls: { kind: 'off' },
  allowInsecure: false,
  faultsFile: null,
  agentCallTimeoutMs: 600_000,
  pollTimeoutMs: 1500,
  probeTimeoutMs: 500,
  switchoverTimeoutSeconds: 5,
  drainSeconds: 30,
  fenceMs: 1000,
  snapshotGrantSeconds: 900,
  snapshotChannel: true,
  loopWaitMs: 30_000,
  dbOsUser: DEFAULT_DB_OS_USER,
  metricsAddress: null,
  backupDir: null,
};

const int = (min: number, max: number): z.ZodNumber => z.number().int().min(min).max(max);

/** What a config file, the environment or the command line may set (each field optional). */
const layer = z
  .object({
    host: z.string().min(1).max(253),
    port: int(1, 65535),
    dataDir: z.string().min(1),
    cloud: z.string().regex(/^[a-z0-9_-]{1,32}$/),
    monitorIntervalMs: int(100, 3_600_000),
    retryDelayMs: int(10, 600_000),
    suspectRecheckMs: int(10, 60_000),
    failoverChecks: int(1, 100),
    failoverBlockSeconds: int(0, 86_400),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    quiet: z.boolean(),
    tls: z.union([z.object({ kind: z.literal('off') }), z.object({ kind: z.literal('ca') }), z.object({ kind: z.literal('files'), certFile: z.string().min(1), keyFile: z.string().min(1) })]),
    allowInsecure: z.boolean(),
    faultsFile: z.string().min(1).nullable(),
    agentCallTimeoutMs: int(1000, 86_400_000),
    pollTimeoutMs: int(100, 60_000),
    probeTimeoutMs: int(100, 60_000),
    switchoverTimeoutSeconds: int(1, 3600),
    drainSeconds: int(1, 3600),
    fenceMs: int(100, 60_000),
    snapshotGrantSeconds: int(10, 86_400),
    snapshotChannel: z.boolean(),
    loopWaitMs: int(100, 600_000),
    dbOsUser: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/),
    backupDir: z.string().min(1).nullable(),
    metricsAddress: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be HOST:PORT, e.g. 10.0.0.1:9104').nullable(),
  })
  .partial()
  .strict();

/** One source's settings: any of the configuration's fields. */
export type ManagerConfigLayer = z.infer<typeof layer>;

/** What the environment sets: `CPS_MYSQL_LOG_LEVEL`, `CPS_MYSQL_FAULTS`. */
export function managerEnvironment(env: NodeJS.ProcessEnv): ManagerConfigLayer {
  return {
    ...(env['CPS_MYSQL_LOG_LEVEL'] ? { logLevel: env['CPS_MYSQL_LOG_LEVEL'] as ManagerConfigLayer['logLevel'] } : {}),
    ...(env['CPS_MYSQL_FAULTS'] ? { faultsFile: env['CPS_MYSQL_FAULTS'] } : {}),
  };
}

/** Reads a JSON config file; INVALID_PARAMS naming the file for one that cannot be read or parsed. */
export function readConfigFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (e) {
    throw new AppError('INVALID_PARAMS', `--config ${path.slice(0, 200)}: ${(e as Error).message}`);
  }
}

function check(where: string, value: unknown): ManagerConfigLayer {
  // A setting given as undefined (a flag not passed) is not given.
  const given = typeof value === 'object' && value !== null ? Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) : value;
  const r = layer.safeParse(given ?? {});
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new AppError('INVALID_PARAMS', `${where}: ${i.path.join('.') || 'value'}: ${i.message}`);
  }
  return r.data;
}

/** The host and port of a `HOST:PORT` (`[v6]:PORT`) address; INVALID_PARAMS naming `what` when the port is not 1–65535. */
export function splitAddress(address: string, what: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(at + 1));
  if (at <= 0 || host === '' || !Number.isInteger(port) || port < 1 || port > 65535) throw new AppError('INVALID_PARAMS', `${what}: must be HOST:PORT with a port from 1 to 65535`);
  return { host, port };
}

/**
 * The manager's configuration: defaults < file < environment < flags. Throws INVALID_PARAMS
 * naming the source and the setting that is wrong, or a port/data directory given nowhere.
 */
export function resolveManagerConfig(sources: { file?: unknown; env?: NodeJS.ProcessEnv; flags?: ManagerConfigLayer }): ManagerConfig {
  const merged = {
    ...MANAGER_DEFAULTS,
    ...check('config file', sources.file),
    ...check('environment', managerEnvironment(sources.env ?? {})),
    ...check('command line', sources.flags),
  };
  if (merged.port === undefined) throw new AppError('INVALID_PARAMS', 'the manager needs a port (--port)');
  if (merged.dataDir === undefined) throw new AppError('INVALID_PARAMS', 'the manager needs a data directory (--data-dir)');
  return merged as ManagerConfig;
}
