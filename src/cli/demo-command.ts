import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { resolveManagerConfig } from '../config/manager-config.js';
import { managerApi } from '../protocol/manager-api.js';
import { RpcClient } from '../rpc/client.js';
import { messageOf } from '../util/errors.js';
import { sleep } from '../util/proc.js';
import { DEFAULT_MANAGER_PORT, defaultHome } from '../config/client-config.js';
import { formatInfo } from './client/format.js';
import { waitForOperation } from './client/wait.js';
import { portOption } from './options.js';
import { createLogger } from '../util/logger.js';
import { which } from '../util/which.js';

const out = (s: string): void => void process.stdout.write(`${s}\n`);

/**
 * The one-command demo: a manager on the local cloud in its own data directory, a service with
 * a master and two replicas, connection details; Ctrl-C shuts the service down and exits.
 * Run again, it picks up the state it left.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a manager with a local service (a master and replicas) until Ctrl-C')
    .option('--data-dir <dir>', 'the manager data directory', defaultHome(process.env))
    .option('--port <port>', 'port of the manager API', portOption, DEFAULT_MANAGER_PORT)
    .option('--slaves <n>', 'replicas to start with', (v) => Number.parseInt(v, 10), 2)
    .option('--write-port <port>', "the router's write port (MySQL Router's convention; 3306 is often a system MariaDB's)", portOption, 6446)
    .option('--read-port <port>', "the router's read port", portOption, 6447)
    .addHelpText('after', '\nExample:\n  cps-mysql demo            # then, in another terminal: cps-mysql info\n')
    .action(async (opts: { dataDir: string; port: number; slaves: number; writePort: number; readPort: number }) => {
      const dataDir = resolve(opts.dataDir);
      const url = `http://127.0.0.1:${opts.port}/`;
      let manager;
      try {
        const { startManager } = await import('../app/manager-app.js');
        manager = await startManager(resolveManagerConfig({ env: process.env, flags: { port: opts.port, dataDir, quiet: true } }));
      } catch (e) {
        process.stderr.write(`cps-mysql demo: cannot start the manager on port ${opts.port}: ${messageOf(e)}\n`);
        process.exit(1);
      }
      const client = new RpcClient(managerApi, { url, token: manager.token });
      const routerDir = mkdtempSync(join(tmpdir(), 'cps-router-'));
      const logger = createLogger('router', { level: 'warn' });
      const { HaproxyProcess } = await import('../router/haproxy-process.js');
      const { Router } = await import('../router/router.js');
      const router = new Router(
        { fetchInfo: () => client.call('get_service_info', {}), haproxy: new HaproxyProcess(which('haproxy'), routerDir, logger), logger },
        { writePort: opts.writePort, readPort: opts.readPort, maxLagSeconds: 10, bind: '127.0.0.1', pollMs: 500 },
      );
      let stopping = false;
      const finish = async (): Promise<void> => {
        if (stopping) return;
        stopping = true;
        out('\nshutting the service down…');
        await router.stop().catch(() => undefined);
        rmSync(routerDir, { recursive: true, force: true });
        let left: string | null = null;
        try {
          let info = await client.call('get_service_info', {});
          // An operation under way (a replacement after a failover, say) ends first: shutdown is
          // accepted only then. Bounded: two minutes.
          for (let i = 0; info.operation !== null && i < 600; i++) {
            if (i === 0) out(`waiting for ${info.operation.kind} to end…`);
            await sleep(200);
            info = await client.call('get_service_info', {});
          }
          if (info.state === 'RUNNING' || info.state === 'ERROR') {
            const since = new Date().toISOString();
            await client.call('shutdown', {});
            info = (await waitForOperation(client, since, out)).info;
          }
          if (info.nodes.length > 0) left = `the service is ${info.state} and its nodes keep running; 'cps-mysql shutdown' stops them`;
        } catch (e) {
          left = `shutdown failed: ${messageOf(e)}`;
        }
        await manager.stop();
        out(left ?? 'stopped; nothing is left running.');
        process.exit(left ? 1 : 0);
      };
      process.on('SIGINT', () => void finish());
      process.on('SIGTERM', () => void finish());

      try {
        let info = await client.call('get_service_info', {});
        if (info.state === 'INIT' || info.state === 'STOPPED') {
          out(`starting a service with a master and ${opts.slaves} replicas (state in ${dataDir})…`);
          const since = new Date().toISOString();
          await client.call('startup', { slaves: opts.slaves });
          info = (await waitForOperation(client, since, out)).info;
        } else {
          out(`found the service in ${dataDir} (${info.state}); resuming it…`);
          while (info.operation !== null && !stopping) {
            await sleep(300);
            info = await client.call('get_service_info', {});
          }
        }
        if (stopping) return;
        out('');
        out(formatInfo(info));
        let endpoints = '';
        try {
          await router.start();
          endpoints = `connect:   writes 127.0.0.1:${opts.writePort}, reads 127.0.0.1:${opts.readPort} (a router that follows the master)`;
        } catch (e) {
          endpoints = `router:    not started (${messageOf(e)}); connect to the master above, or run 'cps-mysql router' with other ports`;
        }
        out(endpoints);
        out(`password:  cps-mysql get-password`);
        out(`manager:   ${url}   (cps-mysql info | list-nodes | performance | add-nodes 1 | switchover ID)`);
        out(`console:   ${url}ui/   (in a browser; log in with the API token in ${join(dataDir, 'api-token')})`);
        out('\nCtrl-C shuts the service down.');
      } catch (e) {
        process.stderr.write(`cps-mysql demo: ${messageOf(e)}\n`);
      }
    });
}
