import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { resolveAgentConfig } from '../config/agent-config.js';
import { messageOf } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { databaseOsUser } from '../util/os-user.js';

interface JoinFlags {
  manager?: string;
  token?: string;
  caHash: string;
  dir: string;
  host?: string;
  port: number;
  mysqlPort: number;
  healthPort: number;
  dbOsUser?: string;
}

/** Default ports of a joined host's agent, `mariadbd` and health checks. */
const PORTS = { agent: 9300, mysql: 3306, health: 9302 };

/**
 * `cps-mysql agent join` (a host joins the static cloud, then serves as its node agent) and
 * `cps-mysql agent unit` (a systemd unit that runs it).
 */
export function registerAgentJoinCommands(agent: Command): void {
  agent
    .command('join')
    .description("join this host (--manager https://ADDRESS:PORT) to a manager of the static cloud with a one-time token (its key is made here and never leaves it), then serve as its node agent; restarted with the same --dir it resumes without a token")
    // --manager is the program's option, --dir, --host, --port, --mysql-port, --health-port and
    // --db-os-user the agent command's: all read below, with a joined host's defaults.
    .option('--token <ID.SECRET>', 'the one-time token `cps-mysql join-token` printed (not needed once joined; better in $CPS_MYSQL_JOIN_TOKEN, which ps does not show)')
    .requiredOption('--ca-hash <sha256:…>', "the service CA's pin, as join-token printed it: a manager that does not match is refused")
    .addHelpText('after', '\nThe host\'s address is --host (default: its address on the route to the manager); the agent serves on --port (9300), mariadbd on --mysql-port (3306), health checks on --health-port (9302); files under --dir (/var/lib/cps-mysql).\n\nExample:\n  CPS_MYSQL_JOIN_TOKEN=1a2b3c4d.… cps-mysql agent join --manager https://10.0.0.1:8100 --ca-hash sha256:… --dir /var/lib/cps-mysql\n')
    .action(async (_opts: unknown, cmd: Command) => {
      const given = cmd.optsWithGlobals<Partial<JoinFlags>>();
      const f: JoinFlags = { ...given, caHash: given.caHash!, dir: given.dir ?? '/var/lib/cps-mysql', port: given.port ?? PORTS.agent, mysqlPort: given.mysqlPort ?? PORTS.mysql, healthPort: given.healthPort ?? PORTS.health };
      const logger = createLogger('agent', { level: process.env['CPS_MYSQL_LOG_LEVEL'] ?? 'info' });
      try {
        if (!f.manager) throw new Error('--manager https://ADDRESS:PORT is required (the manager of the static cloud)');
        const dir = resolve(f.dir);
        const { addressTowards, joinManager, tlsDirOf } = await import('../agent/join.js');
        const address = f.host ?? (await addressTowards(new URL(f.manager).hostname));
        const r = await joinManager({ manager: f.manager, token: f.token ?? process.env['CPS_MYSQL_JOIN_TOKEN'] ?? '', caHash: f.caHash, dir, address, agentPort: f.port, mysqlPort: f.mysqlPort, healthPort: f.healthPort });
        logger.info({ address, manager: f.manager }, r.joined ? 'joined the manager' : 'joined before: resuming');
        const config = resolveAgentConfig({
          env: process.env,
          // The host keeps its data-directory template beside its node's files (it outlives the node's data).
          flags: { host: address, port: f.port, mysqlPort: f.mysqlPort, healthPort: f.healthPort, dir, tlsDir: tlsDirOf(dir), templateDir: join(dir, 'datadir-templates'), ...(f.dbOsUser ? { dbOsUser: f.dbOsUser } : {}) },
        });
        const { startAgent } = await import('../agent/agent-main.js');
        const { app, health, engine } = await startAgent(config, { logger, dbUser: databaseOsUser(config.dbOsUser) });
        const shutdown = async (): Promise<void> => {
          await Promise.all([app.close(), health.close()]);
          await engine.stop();
          process.exit(0);
        };
        process.once('SIGTERM', () => void shutdown());
        process.once('SIGINT', () => void shutdown());
      } catch (err) {
        process.stderr.write(`cps-mysql agent join: ${messageOf(err)}\n`);
        process.exit(1);
      }
    });

  agent
    .command('unit')
    .description('print a systemd unit that runs `agent join` on this host (install it as /etc/systemd/system/cps-mysql-agent.service)')
    .requiredOption('--ca-hash <sha256:…>', "the service CA's pin")
    .action((_opts: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<{ manager?: string; caHash: string; dir?: string }>();
      const f = { ...g, dir: g.dir ?? '/var/lib/cps-mysql' };
      if (!f.manager) {
        process.stderr.write('cps-mysql agent unit: --manager https://ADDRESS:PORT is required\n');
        process.exit(2);
      }
      const cli = resolve(process.argv[1] ?? 'cps-mysql');
      process.stdout.write(
        [
          '[Unit]',
          'Description=ConPaaS MySQL node agent (joined to a manager of the static cloud)',
          'After=network-online.target',
          'Wants=network-online.target',
          '',
          '[Service]',
          '# The first start needs the one-time token in $CPS_MYSQL_JOIN_TOKEN (systemctl set-environment CPS_MYSQL_JOIN_TOKEN=…); later starts resume without it.',
          `ExecStart=${process.execPath} ${cli} agent join --manager ${f.manager} --ca-hash ${f.caHash} --dir ${f.dir}`,
          'Restart=on-failure',
          'RestartSec=2',
          'KillMode=process',
          'LimitNOFILE=65536',
          '',
          '[Install]',
          'WantedBy=multi-user.target',
          '',
        ].join('\n'),
      );
    });
}
