import { InvalidArgumentError, type Command } from 'commander';
import { startManager } from '../manager/manager-main.js';
import { messageOf } from '../util/errors.js';
import { portOption } from './options.js';

function millis(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 100 || n > 3_600_000) throw new InvalidArgumentError('must be milliseconds between 100 and 3600000');
  return n;
}

function whole(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

export function registerManagerCommand(program: Command): void {
  program
    .command('manager')
    .description('run the manager: the service API, its state under --data-dir, the nodes it creates')
    .requiredOption('--port <port>', 'port of the manager API', portOption)
    .requiredOption('--data-dir <dir>', 'directory holding the state, the log and (local cloud) the nodes')
    .option('--host <host>', 'address the API listens on', '127.0.0.1')
    .option('--cloud <name>', 'cloud driver that creates nodes', 'local')
    .option('--monitor-interval <ms>', 'milliseconds between monitoring rounds', millis, 1000)
    .option('--tls', "serve the API over HTTPS with a certificate from the service's CA (pki/ca.crt in the data directory)")
    .option('--tls-cert <file>', 'serve the API over HTTPS with this certificate (with --tls-key)')
    .option('--tls-key <file>', 'the key of --tls-cert')
    .option('--allow-insecure', 'allow a non-loopback --host without TLS (the API token would travel in clear)')
    .option('--failover-checks <n>', 'failed checks in a row before the master counts as unreachable', whole(1, 100), 2)
    .option('--failover-block-seconds <s>', 'after an automatic failover, seconds before another may happen (unless acknowledged)', whole(0, 86400), 300)
    .addHelpText('after', '\nExample:\n  cps-mysql manager --port 8100 --data-dir ~/.cps-mysql\n')
    .action(async (opts: {
      port: number;
      dataDir: string;
      host: string;
      cloud: string;
      monitorInterval: number;
      failoverChecks: number;
      failoverBlockSeconds: number;
      tls?: boolean;
      tlsCert?: string;
      tlsKey?: string;
      allowInsecure?: boolean;
    }) => {
      if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
        process.stderr.write('error: --tls-cert and --tls-key go together\n');
        process.exit(2);
      }
      try {
        const m = await startManager({
          host: opts.host,
          port: opts.port,
          dataDir: opts.dataDir,
          cloud: opts.cloud,
          monitorIntervalMs: opts.monitorInterval,
          failoverChecks: opts.failoverChecks,
          failoverBlockSeconds: opts.failoverBlockSeconds,
          ...(opts.tlsCert && opts.tlsKey ? { tls: { certFile: opts.tlsCert, keyFile: opts.tlsKey } } : opts.tls ? { tls: true } : {}),
          ...(opts.allowInsecure ? { allowInsecure: true } : {}),
        });
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
