import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { HaproxyProcess } from '../../router/haproxy-process.js';
import { Router } from '../../router/router.js';
import { createLogger } from '../../util/logger.js';
import { which } from '../../util/which.js';
import { portOption, whole } from '../options.js';
import { action, example, out, readVerb } from './verb-kit.js';

interface RouterFlags {
  writePort: number;
  readPort: number;
  maxLag: number;
  bind: string;
  pollMs: number;
}

/** The `router` verb: an HAProxy that follows the master by itself. */
export function registerRouterVerb(program: Command): void {
  example(
    readVerb(program.command('router'))
      .description(
        "run HAProxy in front of the service and keep it current: writes go to the master, reads to replicas within --max-lag; every add, removal, replacement, switchover or failover is followed without dropping sessions to nodes that are still right. Stops HAProxy on Ctrl-C or SIGTERM",
      )
      .option('--write-port <port>', 'where clients send writes', portOption, 3306)
      .option('--read-port <port>', 'where clients send reads', portOption, 3307)
      .option('--max-lag <seconds>', 'replicas further behind take no reads', whole(0, 86_400), 10)
      .option('--bind <address>', 'address HAProxy listens on', '127.0.0.1')
      .option('--poll-ms <ms>', 'milliseconds between two looks at the manager', whole(100, 60_000), 500)
      .action(
        action(async (c, g, o: RouterFlags) => {
          const logger = createLogger('router', { level: process.env['CPS_MYSQL_LOG_LEVEL'] ?? 'warn' });
          const dir = mkdtempSync(join(tmpdir(), 'cps-router-'));
          const haproxy = new HaproxyProcess(which('haproxy'), dir, logger);
          const router = new Router(
            { fetchInfo: () => c.call('get_service_info', {}), haproxy, logger },
            { writePort: o.writePort, readPort: o.readPort, maxLagSeconds: o.maxLag, bind: o.bind, pollMs: o.pollMs },
          );
          let stopping: Promise<void> | null = null;
          const stop = (): Promise<void> => (stopping ??= router.stop().finally(() => rmSync(dir, { recursive: true, force: true })));
          try {
            await router.start();
          } catch (e) {
            await stop();
            throw e;
          }
          const host = o.bind.includes(':') ? `[${o.bind}]` : o.bind;
          out(g.json ? JSON.stringify({ write: `${host}:${o.writePort}`, read: `${host}:${o.readPort}`, pid: haproxy.pid }) : `writes: ${host}:${o.writePort}\nreads:  ${host}:${o.readPort}\n(haproxy pid ${haproxy.pid}; Ctrl-C stops it)`);
          await new Promise<void>((resolve) => {
            const done = (): void => void stop().then(resolve);
            process.once('SIGINT', done);
            process.once('SIGTERM', done);
          });
        }),
      ),
    'cps-mysql router --write-port 3306 --read-port 3307',
  );
}
