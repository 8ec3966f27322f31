import type { Command } from 'commander';
import { startAgent } from '../agent/agent-main.js';
import { createLogger } from '../util/logger.js';
import { messageOf } from '../util/errors.js';
import { portOption } from './options.js';
import { DEFAULT_DB_OS_USER, databaseOsUser } from '../util/os-user.js';

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run a node agent: one mariadbd under --dir, controlled over JSON-RPC')
    .requiredOption('--port <port>', 'port of the agent API', portOption)
    .requiredOption('--dir <dir>', 'directory holding every file of this node (created if missing)')
    .option('--host <host>', 'address the agent API listens on', '127.0.0.1')
    .option('--mysql-host <host>', 'address mariadbd listens on (default: --host)')
    .option('--mysql-port <port>', 'port mariadbd listens on (default: --port + 1)', portOption)
    .option('--tls-dir <dir>', "serve over mutual TLS with ca.crt, agent.crt and agent.key from this directory (the manager's CA)")
    .option('--health-port <port>', 'port of the plain-HTTP health checks /primary, /replica, /health (default: --port + 2)', portOption)
    .option('--db-os-user <name>', `OS user mariadbd, mariadb-dump and mariadb-backup run as when the agent runs as root`, DEFAULT_DB_OS_USER)
    .addHelpText('after', '\nExample:\n  cps-mysql agent --host 127.0.0.1 --port 8101 --dir /tmp/node-1\n')
    .action(async (opts: { port: number; dir: string; host: string; mysqlHost?: string; mysqlPort?: number; healthPort?: number; tlsDir?: string; dbOsUser: string }) => {
      const logger = createLogger('agent');
      const mysqlPort = opts.mysqlPort ?? opts.port + 1;
      const healthPort = opts.healthPort ?? opts.port + 2;
      if (mysqlPort > 65535 || healthPort > 65535) {
        process.stderr.write('error: give --mysql-port and --health-port when --port is above 65533\n');
        process.exit(2);
      }
      try {
        const dbUser = databaseOsUser(opts.dbOsUser);
        const { app, health, engine } = await startAgent({
          dbUser,
          host: opts.host,
          port: opts.port,
          dir: opts.dir,
          mysqlHost: opts.mysqlHost ?? opts.host,
          mysqlPort,
          healthPort,
          ...(opts.tlsDir ? { tlsDir: opts.tlsDir } : {}),
          logger,
        });
        const shutdown = async (signal: string): Promise<void> => {
          logger.info({ signal }, 'agent stopping');
          await Promise.all([app.close(), health.close()]);
          await engine.stop();
          process.exit(0);
        };
        process.once('SIGTERM', () => void shutdown('SIGTERM'));
        process.once('SIGINT', () => void shutdown('SIGINT'));
      } catch (err) {
        logger.error({ err: messageOf(err) }, 'agent failed to start');
        process.exit(1);
      }
    });
}
