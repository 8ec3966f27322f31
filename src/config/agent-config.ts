import { AppError } from '../util/errors.js';
import { DEFAULT_DB_OS_USER } from '../util/os-user.js';

/**
 * Everything an agent process is configured with, resolved once at start: defaults, then the
 * environment (`CPS_MYSQL_LOG_LEVEL`), then the command line.
 */
export interface AgentConfig {
  /** Address and port of the agent API. */
  host: string;
  /** The agent API's port. */
  port: number;
  /** The node's directory: every file of it lives below. */
  dir: string;
  /** Address and port mariadbd listens on. */
  mysqlHost: string;
  /** The port mariadbd listens on. */
  mysqlPort: number;
  /** Port of the plain-HTTP health checks. */
  healthPort: number;
  /** Mutual TLS material (ca.crt, agent.crt, agent.key), or null for plain HTTP. */
  tlsDir: string | null;
  /** Where the host's new data directory is kept for copying (issue #17), shared by the nodes of the host; null: each runs `mariadb-install-db`. */
  templateDir: string | null;
  /** The OS user MariaDB's programs run as when the agent runs as root. */
  dbOsUser: string;
  /** pino's level (`info`, `debug`…). */
  logLevel: string;
  /** Milliseconds a call to a peer agent (a snapshot) may take. */
  peerCallTimeoutMs: number;
}

/** What the command line gives; the rest comes from defaults. */
export interface AgentFlags {
  /** `--port`. */
  port: number;
  /** `--dir`. */
  dir: string;
  /** `--host`. */
  host?: string | undefined;
  /** `--mysql-host`. */
  mysqlHost?: string | undefined;
  /** `--mysql-port`. */
  mysqlPort?: number | undefined;
  /** `--health-port`. */
  healthPort?: number | undefined;
  /** `--tls-dir`. */
  tlsDir?: string | undefined;
  /** `--template-dir`. */
  templateDir?: string | undefined;
  /** `--db-os-user`. */
  dbOsUser?: string | undefined;
}

/** The agent's defaults. */
export const AGENT_DEFAULTS = { host: '127.0.0.1', dbOsUser: DEFAULT_DB_OS_USER, logLevel: 'info', peerCallTimeoutMs: 600_000 } as const;

/**
 * The agent's configuration. Ports not given follow `--port` (mariadbd on the next, health checks
 * on the one after). Throws INVALID_PARAMS when those would pass 65535.
 */
export function resolveAgentConfig(sources: { env: NodeJS.ProcessEnv; flags: AgentFlags }): AgentConfig {
  const f = sources.flags;
  const mysqlPort = f.mysqlPort ?? f.port + 1;
  const healthPort = f.healthPort ?? f.port + 2;
  if (mysqlPort > 65535 || healthPort > 65535) throw new AppError('INVALID_PARAMS', 'give --mysql-port and --health-port when --port is above 65533');
  const host = f.host ?? AGENT_DEFAULTS.host;
  return {
    host,
    port: f.port,
    dir: f.dir,
    mysqlHost: f.mysqlHost ?? host,
    mysqlPort,
    healthPort,
    tlsDir: f.tlsDir ?? null,
    templateDir: f.templateDir ?? null,
    dbOsUser: f.dbOsUser ?? AGENT_DEFAULTS.dbOsUser,
    logLevel: sources.env['CPS_MYSQL_LOG_LEVEL'] || AGENT_DEFAULTS.logLevel,
    peerCallTimeoutMs: AGENT_DEFAULTS.peerCallTimeoutMs,
  };
}
