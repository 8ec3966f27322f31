import type { Command } from 'commander';
import { AGENT_DEFAULTS, resolveAgentConfig, type AgentConfig, type AgentFlags } from '../config/agent-config.js';
import { createLogger } from '../util/logger.js';
import { messageOf } from '../util/errors.js';
import { databaseOsUser } from '../util/os-user.js';
import { portOption } from './options.js';
import { registerAgentJoinCommands } from './agent-join-command.js';

/** `cps-mysql agent`: one node's agent, configured once (config/agent-config.ts). */
export function registerAgentCommand(program: Command): void {
  const agent = program.command('agent');
  registerAgentJoinCommands(agent);
  agent
    .description('run a node agent: one mariadbd under --dir, controlled over JSON-RPC')
    // Not `requiredOption`: `agent join` (a subcommand) reads these too, with defaults of its own.
    .option('--port <port>', 'port of the agent API (required)', portOption)
    .option('--dir <dir>', 'directory holding every file of this node, created if missing (required)')
    .option('--host <host>', `address the agent API listens on (default ${AGENT_DEFAULTS.host})`)
    .option('--mysql-host <host>', 'address mariadbd listens on (default: --host)')
    .option('--mysql-port <port>', 'port mariadbd listens on (default: --port + 1)', portOption)
    .option('--tls-dir <dir>', "serve over mutual TLS with ca.crt, agent.crt and agent.key from this directory (the manager's CA)")
    .option('--template-dir <dir>', "keep a new data directory here, made once and copied for each new server of this host instead of running mariadb-install-db each time (shared by the host's nodes)")
    .option('--health-port <port>', 'port of the plain-HTTP health checks /primary, /replica, /health (default: --port + 2)', portOption)
    .option('--db-os-user <name>', `OS user mariadbd, mariadb-dump and mariadb-backup run as when the agent runs as root (default ${AGENT_DEFAULTS.dbOsUser})`)
    .addHelpText('after', '\nEnvironment: CPS_MYSQL_LOG_LEVEL.\n\nExample:\n  cps-mysql agent --host 127.0.0.1 --port 8101 --dir /tmp/node-1\n')
    .action(async (flags: AgentFlags) => {
      let config: AgentConfig;
      if (flags.port === undefined || flags.dir === undefined) {
        process.stderr.write("error: required options '--port <port>' and '--dir <dir>' (or: cps-mysql agent join)\n");
        process.exit(2);
      }
      try {
        config = resolveAgentConfig({ env: process.env, flags });
      } catch (err) {
        process.stderr.write(`error: ${messageOf(err)}\n`);
        process.exit(2);
      }
      const logger = createLogger('agent', { level: config.logLevel });
      try {
        // Loaded only by the command that runs it: each process holds only the code it runs.
        const { startAgent } = await import('../agent/agent-main.js');
        const { app, health, engine } = await startAgent(config, { logger, dbUser: databaseOsUser(config.dbOsUser) });
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
