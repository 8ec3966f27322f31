import { InvalidArgumentError, type Command } from 'commander';
import { MANAGER_DEFAULTS, readConfigFile, resolveManagerConfig, type ManagerConfigLayer } from '../config/manager-config.js';
import { messageOf } from '../util/errors.js';
import { portOption, whole } from './options.js';

function millis(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 100 || n > 3_600_000) throw new InvalidArgumentError('must be milliseconds between 100 and 3600000');
  return n;
}


interface ManagerFlags {
  port?: number;
  dataDir?: string;
  host?: string;
  cloud?: string;
  monitorInterval?: number;
  failoverChecks?: number;
  failoverBlockSeconds?: number;
  switchoverTimeout?: number;
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  allowInsecure?: boolean;
  metricsAddress?: string;
  backupDir?: string;
  config?: string;
  /** False with --no-snapshot-channel (commander's default is true). */
  snapshotChannel?: boolean;
}

/** The command line's layer of the configuration (config/manager-config.ts): only what was given. */
function flagsLayer(o: ManagerFlags): ManagerConfigLayer {
  return {
    port: o.port,
    dataDir: o.dataDir,
    host: o.host,
    cloud: o.cloud,
    monitorIntervalMs: o.monitorInterval,
    failoverChecks: o.failoverChecks,
    failoverBlockSeconds: o.failoverBlockSeconds,
    switchoverTimeoutSeconds: o.switchoverTimeout,
    ...(o.tlsCert && o.tlsKey ? { tls: { kind: 'files' as const, certFile: o.tlsCert, keyFile: o.tlsKey } } : o.tls ? { tls: { kind: 'ca' as const } } : {}),
    ...(o.allowInsecure ? { allowInsecure: true } : {}),
    ...(o.metricsAddress ? { metricsAddress: o.metricsAddress } : {}),
    ...(o.backupDir ? { backupDir: o.backupDir } : {}),
    // Only when given: a config file may also turn it off.
    ...(o.snapshotChannel === false ? { snapshotChannel: false } : {}),
  };
}

/** `cps-mysql manager`: its configuration resolved once (config/manager-config.ts), then the manager started. */
export function registerManagerCommand(program: Command): void {
  const d = MANAGER_DEFAULTS;
  program
    .command('manager')
    .description('run the manager: the service API, its state under --data-dir, the nodes it creates')
    .option('--port <port>', 'port of the manager API (required, here or in --config)', portOption)
    .option('--data-dir <dir>', 'directory holding the state, the log and (local cloud) the nodes (required, here or in --config)')
    .option('--config <file>', 'a JSON file with any of the settings (flags and the environment win over it)')
    .option('--host <host>', `address the API listens on (default ${d.host})`)
    .option('--cloud <name>', `cloud driver that creates nodes: local (this machine) or static (hosts that joined with cps-mysql join-token; needs --tls) (default ${d.cloud})`)
    .option('--monitor-interval <ms>', `milliseconds between monitoring rounds (default ${d.monitorIntervalMs})`, millis)
    .option('--tls', "serve the API over HTTPS with a certificate from the service's CA (pki/ca.crt in the data directory)")
    .option('--tls-cert <file>', 'serve the API over HTTPS with this certificate (with --tls-key)')
    .option('--tls-key <file>', 'the key of --tls-cert')
    .option('--allow-insecure', 'allow a non-loopback --host without TLS (the API token would travel in clear)')
    .option('--backup-dir <dir>', 'where backups are kept, on any mounted path (default: backups/ in the data directory)')
    .option('--metrics-address <host:port>', 'also serve GET /metrics there, without the API token, for a Prometheus on a network you trust (default: only on the API port, behind the token)')
    .option('--failover-checks <n>', `failed checks in a row before the master counts as unreachable (default ${d.failoverChecks})`, whole(1, 100))
    .option('--failover-block-seconds <s>', `after an automatic failover, seconds before another may happen unless acknowledged (default ${d.failoverBlockSeconds})`, whole(0, 86400))
    .option('--switchover-timeout <s>', `seconds a switchover may hold writes blocked; past them the old master takes writes again and the switchover ends with the reason (default ${d.switchoverTimeoutSeconds})`, whole(1, 3600))
    .option('--no-snapshot-channel', "copy snapshots between agents over their HTTPS API, not a data channel (socat on any TCP port between hosts): for a firewall that lets only the agent port through")
    .addHelpText('after', '\nEnvironment: CPS_MYSQL_LOG_LEVEL (debug, info, warn…).\n\nExample:\n  cps-mysql manager --port 8100 --data-dir /var/lib/cps-mysql\n')
    .action(async (opts: ManagerFlags) => {
      if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
        process.stderr.write('error: --tls-cert and --tls-key go together\n');
        process.exit(2);
      }
      try {
        const config = resolveManagerConfig({ file: opts.config ? readConfigFile(opts.config) : undefined, env: process.env, flags: flagsLayer(opts) });
        // Loaded only by the command that runs it: each process holds only the code it runs.
        const { startManager } = await import('../app/manager-app.js');
        const m = await startManager(config);
        const shutdown = async (signal: string): Promise<void> => {
          m.logger.info({ signal }, 'manager stopping; the nodes keep running');
          await m.stop();
          process.exit(0);
        };
        process.once('SIGTERM', () => void shutdown('SIGTERM'));
        process.once('SIGINT', () => void shutdown('SIGINT'));
      } catch (err) {
        process.stderr.write(`cps-mysql manager: ${messageOf(err)}\n`);
        process.exit(1);
      }
    });
}
