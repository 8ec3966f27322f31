import { createReadStream, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ManagerApi } from '../../protocol/manager-api.js';
import type { RpcClient } from '../../rpc/client.js';
import { AppError, messageOf } from '../../util/errors.js';
import { sleep } from '../../util/proc.js';
import { managerClient, managerUrl, readTokenFile } from './connection.js';
import { formatInfo, formatNode, formatNodes, formatPerformance } from './format.js';
import { promptHidden, readLineFromStdin } from './prompt.js';
import { haproxyConfig } from './haproxy.js';
import { portOption } from '../options.js';
import { waitForOperation } from './wait.js';

interface Globals {
  manager?: string;
  token?: string;
  tokenFile?: string;
  json?: boolean;
  wait?: boolean;
}

const out = (s: string): void => void process.stdout.write(`${s}\n`);
const err = (s: string): void => void process.stderr.write(`${s}\n`);

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 16) throw new InvalidArgumentError('must be a whole number from 1 to 16');
  return n;
}

/** Runs a verb: any failure is printed once with the manager's reason, and exits 1. */
function action<A extends unknown[]>(fn: (client: RpcClient<ManagerApi>, g: Globals, ...args: A) => Promise<void>) {
  return async (...args: unknown[]): Promise<void> => {
    const cmd = args[args.length - 1] as Command;
    const g = cmd.optsWithGlobals<Globals>();
    if (g.token !== undefined) {
      // A secret on the command line is in every `ps` on the machine.
      err('cps-mysql: --token would show the API token in the process list: use --token-file FILE (or - for standard input) or CPS_MYSQL_TOKEN');
      process.exitCode = 2;
      return;
    }
    let client: RpcClient<ManagerApi>;
    try {
      client = managerClient(g.manager, g.tokenFile === undefined ? undefined : await readTokenFile(g.tokenFile));
    } catch (e) {
      err(`cps-mysql: ${messageOf(e)}`);
      process.exitCode = 2;
      return;
    }
    try {
      await fn(client, g, ...(args.slice(0, -1) as A));
    } catch (e) {
      const code = e instanceof AppError ? e.code : 'INTERNAL';
      if (code === 'UNAUTHORIZED') {
        err(`cps-mysql: the manager at ${managerUrl(g.manager)} refused the API token; give it with --token-file or CPS_MYSQL_TOKEN (it is in the manager's data directory, file api-token)`);
      } else if (code === 'PEER_FAILED' || code === 'TIMEOUT') {
        err(`cps-mysql: cannot reach the manager at ${managerUrl(g.manager)} (${messageOf(e)}); start one with 'cps-mysql manager' or name it with --manager`);
      } else {
        err(`cps-mysql: ${messageOf(e)}`);
      }
      process.exitCode = 1;
    }
  };
}

/** After a long operation was accepted: follow it unless --no-wait, and report how it ended. */
async function follow(client: RpcClient<ManagerApi>, g: Globals, since: string, accepted: { state: string }): Promise<void> {
  if (g.wait === false) {
    out(`accepted: the service is ${accepted.state}; follow it with 'cps-mysql status --watch'`);
    return;
  }
  out(`${accepted.state}…`);
  const { info, interrupted } = await waitForOperation(client, since, out);
  if (interrupted) {
    out(`stopped waiting; the operation goes on (service ${info.state}). Follow it with 'cps-mysql status --watch'.`);
    process.exitCode = 130;
    return;
  }
  if (info.error) throw new AppError('ENGINE_FAILED', `${info.state}: ${info.error}`);
  out('');
  out(formatInfo(info));
}

function example(cmd: Command, text: string): Command {
  return cmd.addHelpText('after', `\nExample:\n  ${text}\n`);
}

/** The client verbs: they talk to a manager over the wire protocol, like any ConPaaS client. */
export function registerClientVerbs(program: Command): void {
  program.option('--manager <url>', 'the manager to talk to (default: $CPS_MYSQL_MANAGER, then the local manager)');
  program.option('--token-file <file>', "a file holding the manager's API token, - for standard input (default: $CPS_MYSQL_TOKEN, then the local manager's api-token file)");
  // Refused with a reason, never used: a token on the command line is visible to every local user.
  program.addOption(new Option('--token <token>').hideHelp());

  const long = (cmd: Command): Command => cmd.option('--no-wait', 'return once the manager accepted the operation');
  const reads = (cmd: Command): Command => cmd.option('--json', 'print the raw result as JSON, for scripts');

  example(
    long(program.command('startup').description('start the service: a master and --slaves replicas'))
      .option('--slaves <n>', 'replicas to start with', (v) => (v === '0' ? 0 : count(v)), 0)
      .action(
        action(async (c, g, opts: { slaves: number }) => {
          const since = new Date().toISOString();
          await follow(c, g, since, await c.call('startup', { slaves: opts.slaves }));
        }),
      ),
    'cps-mysql startup --slaves 2',
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
    long(program.command('switchover').description('make a replica the master (planned; writes pause for a moment)'))
      .argument('<id>', 'the replica to promote')
      .action(
        action(async (c, g, id: string) => {
          const since = new Date().toISOString();
          await follow(c, g, since, await c.call('set_up_replica_master', { serviceNodeId: id }));
        }),
      ),
    'cps-mysql switchover node-3',
  );

  example(
    reads(program.command('performance').description('statements/s, errors/s, commits/s and mean latency, per node and in all')).action(
      action(async (c, g) => {
        const p = await c.call('get_service_performance', {});
        out(g.json ? JSON.stringify(p, null, 2) : formatPerformance(p));
      }),
    ),
    'cps-mysql performance',
  );

  example(
    program
      .command('get-password')
      .description("print the service user's password")
      .action(
        action(async (c) => {
          out(await c.call('get_password', {}));
        }),
      ),
    'cps-mysql get-password',
  );

  example(
    program
      .command('set-password')
      .description("change the service user's password: asked twice without echo, or read from standard input's first line")
      .argument('[password]', 'refused: a password on the command line is visible to other local users; use the prompt or standard input')
      .action(
        action(async (c, _g, given: string | undefined) => {
          if (given !== undefined) {
            throw new AppError('INVALID_PARAMS', 'a password on the command line is visible in the process list: give it at the prompt or on standard input (echo … | cps-mysql set-password); nothing changed');
          }
          let pw: string;
          if (process.stdin.isTTY) {
            pw = await promptHidden('new password: ');
            const again = await promptHidden('again: ');
            if (pw !== again) throw new AppError('INVALID_PARAMS', 'the two passwords differ; nothing changed');
          } else {
            pw = await readLineFromStdin();
          }
          if (!pw) throw new AppError('INVALID_PARAMS', 'the password is empty; nothing changed');
          const r = await c.call('set_password', { password: pw });
          out(`password of ${r.user} changed`);
        }),
      ),
    'cps-mysql set-password',
  );

  example(
    program
      .command('dump')
      .description('a logical dump of the user databases, streamed to standard output')
      .action(
        action(async (c) => {
          await pipeline(await c.stream('sqldump', {}), process.stdout);
        }),
      ),
    'cps-mysql dump > backup.sql',
  );

  example(
    program
      .command('load-dump')
      .description('load a dump into the master (replicas follow)')
      .argument('<file>', 'the SQL file')
      .action(
        action(async (c, _g, file: string) => {
          try {
            if (!statSync(file).isFile()) throw new Error('not a file');
          } catch {
            throw new AppError('INVALID_PARAMS', `cannot read ${file}`);
          }
          const r = await c.upload('load_dump', 'mysqldump_file', createReadStream(file));
          out(`loaded ${r.bytes} bytes`);
        }),
      ),
    'cps-mysql load-dump backup.sql',
  );

  example(
    program
      .command('logs')
      .description("the manager's recent log")
      .action(
        action(async (c) => {
          out((await c.call('getLog', {})).log.trimEnd());
        }),
      ),
    'cps-mysql logs',
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

  example(
    long(program.command('failover').description('fail over now: fence the master, promote the most advanced replica (for a master that is down)'))
      .argument('[id]', 'the replica to prefer among the most advanced')
      .action(
        action(async (c, g, id: string | undefined) => {
          const since = new Date().toISOString();
          await follow(c, g, since, await c.call('failover', id ? { serviceNodeId: id } : {}));
        }),
      ),
    'cps-mysql failover',
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
