import { Option, type Command } from 'commander';
import { AppError } from '../../util/errors.js';
import { PERFORMANCE_WINDOWS, type PerformanceWindow } from '../../protocol/manager-api.js';
import { whole } from '../options.js';
import { formatInfo, formatNode, formatNodes, formatPerformance } from './format.js';
import { action, count, example, follow, longVerb as long, out, readVerb as reads } from './verb-kit.js';
import { registerDataVerbs } from './verbs-data.js';
import { registerFailoverVerbs } from './verbs-failover.js';
import { registerRouterVerb } from './verbs-router.js';
import { registerUserVerbs } from './verbs-users.js';
import { registerHostVerbs } from './verbs-hosts.js';
import { registerBackupVerbs } from './verbs-backups.js';

/** The client verbs: they talk to a manager over the wire protocol, like any ConPaaS client. */
export function registerClientVerbs(program: Command): void {
  program.option('--manager <url>', 'the manager to talk to (default: $CPS_MYSQL_MANAGER, then the local manager)');
  program.option('--token-file <file>', "a file holding the manager's API token, - for standard input (default: $CPS_MYSQL_TOKEN, then the local manager's api-token file)");
  // Refused with a reason, never used: a token on the command line is visible to every local user.
  program.addOption(new Option('--token <token>').hideHelp());


  example(
    long(program.command('startup').description('start the service: a master and --slaves replicas; with --restore, the master is built from the backup store (docs/backups.md)'))
      .option('--slaves <n>', 'replicas to start with', (v) => (v === '0' ? 0 : count(v)), 0)
      .option('--restore', 'build the master from the newest backup and the archived binary logs, to the end of the archive or to --time')
      .option('--time <iso>', 'with --restore: the last second restored, ISO 8601 UTC (2026-11-29T21:30:05Z)')
      .option('--backup <id>', 'with --restore: the full backup to start from (default: the newest one that ended by --time)')
      .action(
        action(async (c, g, opts: { slaves: number; restore?: boolean; time?: string; backup?: string }) => {
          if (!opts.restore && (opts.time !== undefined || opts.backup !== undefined)) throw new Error('--time and --backup go with --restore');
          const restore = opts.restore ? { ...(opts.time !== undefined ? { time: opts.time } : {}), ...(opts.backup !== undefined ? { backup: opts.backup } : {}) } : undefined;
          const since = new Date().toISOString();
          await follow(c, g, since, await c.call('startup', { slaves: opts.slaves, ...(restore ? { restore } : {}) }));
        }),
      ),
    'cps-mysql startup --slaves 2\n  cps-mysql startup --slaves 2 --restore --time 2026-11-29T21:30:05Z',
  );

  example(
    reads(program.command('info').description('state, connection URLs and the command to connect')).action(
      action(async (c, g) => {
        const info = await c.call('get_service_info', {});
        out(g.json ? JSON.stringify(info, null, 2) : formatInfo(info));
      }),
    ),
    'cps-mysql info',
  );

  example(
    long(program.command('add-nodes').description('add N replicas, provisioned in parallel from snapshots of the master'))
      .argument('<n>', 'how many replicas', count)
      .action(
        action(async (c, g, n: number) => {
          const since = new Date().toISOString();
          await follow(c, g, since, await c.call('add_nodes', { slaves: n }));
        }),
      ),
    'cps-mysql add-nodes 2',
  );

  example(
    long(program.command('remove-nodes').description('remove N replicas (the newest), or one named with --node; never the master'))
      .argument('[n]', 'how many replicas', count)
      .option('--node <id>', 'the replica to remove')
      .action(
        action(async (c, g, n: number | undefined, opts: { node?: string }) => {
          if ((n === undefined) === (opts.node === undefined)) throw new AppError('INVALID_PARAMS', 'give either a count or --node ID');
          const since = new Date().toISOString();
          const accepted = opts.node !== undefined ? await c.call('remove_nodes', { serviceNodeId: opts.node }) : await c.call('remove_nodes', { slaves: n! });
          await follow(c, g, since, accepted);
        }),
      ),
    'cps-mysql remove-nodes 1   |   cps-mysql remove-nodes --node node-3',
  );

  example(
    reads(program.command('list-nodes').description('the nodes, their roles, health and replication')).action(
      action(async (c, g) => {
        const ids = await c.call('list_nodes', {});
        if (g.json) return out(JSON.stringify(ids, null, 2));
        const info = await c.call('get_service_info', {});
        out(info.nodes.length > 0 ? formatNodes(info.nodes) : 'no nodes');
      }),
    ),
    'cps-mysql list-nodes',
  );

  example(
    reads(program.command('node-info').description('everything known about one node'))
      .argument('<id>', 'node id, e.g. node-2')
      .action(
        action(async (c, g, id: string) => {
          const r = await c.call('get_node_info', { serviceNodeId: id });
          out(g.json ? JSON.stringify(r, null, 2) : formatNode(r.serviceNode));
        }),
      ),
    'cps-mysql node-info node-2',
  );

  example(
    long(
      program
        .command('switchover')
        .description('make a replica the master (planned; writes pause for at most the switchover timeout); refused before any write pauses when the replica is broken or too far behind'),
    )
      .argument('<id>', 'the replica to promote')
      .option('--max-lag <seconds>', 'how far behind the replica may be (default 5)', whole(0, 86400))
      .action(
        action(async (c, g, id: string, opts: { maxLag?: number }) => {
          const since = new Date().toISOString();
          await follow(c, g, since, await c.call('set_up_replica_master', { serviceNodeId: id, ...(opts.maxLag !== undefined ? { maxLagSeconds: opts.maxLag } : {}) }));
        }),
      ),
    'cps-mysql switchover node-3',
  );

  example(
    reads(program.command('performance').description('statements/s, errors/s, commits/s, mean and p95 latency, per node and in all, over the last second and 1, 5 and 15 minutes'))
      .addOption(new Option('--window <w>', 'the window of the per-node table').choices([...PERFORMANCE_WINDOWS]).default('1m'))
      .action(
        action(async (c, g, opts: { window: PerformanceWindow }) => {
          const p = await c.call('get_service_performance', { window: opts.window });
          out(g.json ? JSON.stringify(p, null, 2) : formatPerformance(p));
        }),
      ),
    'cps-mysql performance --window 5m',
  );

  example(
    long(program.command('shutdown').description('stop the service and destroy every node')).action(
      action(async (c, g) => {
        const since = new Date().toISOString();
        await follow(c, g, since, await c.call('shutdown', {}));
      }),
    ),
    'cps-mysql shutdown',
  );

  registerDataVerbs(program);
  registerFailoverVerbs(program);
  registerRouterVerb(program);
  registerUserVerbs(program);
  registerHostVerbs(program);
  registerBackupVerbs(program);
}
