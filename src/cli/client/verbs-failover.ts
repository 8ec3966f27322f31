import { InvalidArgumentError, type Command } from 'commander';
import { sleep } from '../../util/proc.js';
import { portOption } from '../options.js';
import { formatInfo, formatNodes } from './format.js';
import { haproxyConfig } from '../../router/haproxy-config.js';
import { action, example, follow, longVerb as long, out, readVerb as reads } from './verb-kit.js';

/** The verbs of failover and watching: failover, its block and switch, HAProxy's configuration, status. */
export function registerFailoverVerbs(program: Command): void {
  example(
    long(
      program
        .command('failover')
        .description('fail over now, also from ERROR without a master: fence the master (if any), promote the replica holding the most, or the one named; refused when that would lose acknowledged transactions, unless --force'),
    )
      .argument('[id]', 'the replica to promote (it must hold every acknowledged transaction, or --force)')
      .option('--force', 'promote even if acknowledged transactions are lost; the loss is reported in the events')
      .action(
        action(async (c, g, id: string | undefined, opts: { force?: boolean }) => {
          const since = new Date().toISOString();
          await follow(c, g, since, await c.call('failover', { ...(id ? { serviceNodeId: id } : {}), ...(opts.force ? { force: true } : {}) }));
        }),
      ),
    'cps-mysql failover node-3 --force',
  );

  example(
    long(program.command('retry').description('begin again the last abandoned operation (a failover, switchover, attach, removal or shutdown)')).action(
      action(async (c, g) => {
        const since = new Date().toISOString();
        await follow(c, g, since, await c.call('retry', {}));
      }),
    ),
    'cps-mysql retry',
  );

  example(
    reads(program.command('failover-ack').description('lift the block an automatic failover put on the next one')).action(
      action(async (c, g) => {
        const f = await c.call('acknowledge_failover', {});
        out(g.json ? JSON.stringify(f) : `automatic failover ${f.enabled ? 'on' : 'off'}, not blocked`);
      }),
    ),
    'cps-mysql failover-ack',
  );

  example(
    reads(program.command('auto-failover').description('switch automatic failover on or off'))
      .argument('<on|off>', 'on or off', (v) => {
        if (v !== 'on' && v !== 'off') throw new InvalidArgumentError("must be 'on' or 'off'");
        return v;
      })
      .action(
        action(async (c, g, v: string) => {
          const f = await c.call('set_failover', { enabled: v === 'on' });
          out(g.json ? JSON.stringify(f) : `automatic failover ${f.enabled ? 'on' : 'off'}`);
        }),
      ),
    'cps-mysql auto-failover off',
  );

  example(
    program
      .command('haproxy-config')
      .description('print an HAProxy configuration: writes to the master, reads to healthy replicas')
      .option('--write-port <port>', 'where clients send writes', portOption, 3306)
      .option('--read-port <port>', 'where clients send reads', portOption, 3307)
      .option('--max-lag <seconds>', 'replicas further behind take no reads', (v) => Number(v), 10)
      .option('--bind <address>', 'address HAProxy listens on', '127.0.0.1')
      .action(
        action(async (c, _g, opts: { writePort: number; readPort: number; maxLag: number; bind: string }) => {
          const info = await c.call('get_service_info', {});
          out(haproxyConfig(info, { writePort: opts.writePort, readPort: opts.readPort, maxLagSeconds: opts.maxLag, bind: opts.bind }));
        }),
      ),
    'cps-mysql haproxy-config > haproxy.cfg && haproxy -f haproxy.cfg',
  );

  example(
    reads(program.command('status').description('state, nodes, operation and recent events'))
      .option('--watch', 'refresh every 2 s until Ctrl-C')
      .action(
        action(async (c, g, opts: { watch?: boolean }) => {
          let stop = false;
          process.once('SIGINT', () => (stop = true));
          do {
            const info = await c.call('get_service_info', {});
            if (g.json) out(JSON.stringify(info));
            else {
              if (opts.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
              out(formatInfo(info));
              if (info.nodes.length > 0) out(`\n${formatNodes(info.nodes)}`);
              out(`\n${info.events.slice(-8).map((e) => `  ${e.at.slice(11, 19)}  ${e.message}`).join('\n')}`);
            }
            if (opts.watch) for (let i = 0; i < 20 && !stop; i++) await sleep(100);
          } while (opts.watch && !stop);
        }),
      ),
    'cps-mysql status --watch',
  );
}
