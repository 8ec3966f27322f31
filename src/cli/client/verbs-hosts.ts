import { InvalidArgumentError, type Command } from 'commander';
import { table } from './format.js';
import { action, example, out, readVerb as reads } from './verb-kit.js';

/** `1h`, `30m`, `90s` or plain seconds, as seconds. */
function duration(v: string): number {
  const m = /^([0-9]+)([smhd]?)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError('must be a duration such as 1h, 30m or 3600');
  const n = Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  if (n < 60 || n > 7 * 86400) throw new InvalidArgumentError('must be between 1 minute and 7 days');
  return n;
}

/** The verbs of the static cloud's hosts: join-token, hosts, remove-host. */
export function registerHostVerbs(program: Command): void {
  example(
    reads(program.command('join-token').description('mint a one-time token for a host to join the static cloud, and print the command its operator runs'))
      .option('--ttl <duration>', 'how long it is valid (1m to 7d)', duration, 3600)
      .option('--address <ip>', 'bind it to the host with this address')
      .action(
        action(async (c, g, o: { ttl: number; address?: string }) => {
          const r = await c.call('create_join_token', { ttlSeconds: o.ttl, ...(o.address ? { address: o.address } : {}) });
          out(g.json ? JSON.stringify(r) : `token valid until ${r.expiresAt} (once); on the host, as root:\n\n  ${r.command}\n`);
        }),
      ),
    'cps-mysql join-token --ttl 1h --address 10.0.0.12',
  );

  example(
    reads(program.command('hosts').description('the hosts that joined: address, free / the node they hold / unreachable, last seen, agent version')).action(
      action(async (c, g) => {
        const r = await c.call('list_hosts', {});
        out(g.json ? JSON.stringify(r) : r.hosts.length === 0 ? '(no host joined yet: cps-mysql join-token)' : table(['ADDRESS', 'STATE', 'AGENT', 'MYSQL', 'LAST SEEN', 'VERSION'], r.hosts.map((h) => [h.address, h.state, String(h.agentPort), String(h.mysqlPort), h.lastSeen ?? '-', h.agentVersion])));
      }),
    ),
    'cps-mysql hosts',
  );

  example(
    program
      .command('remove-host')
      .description('remove a free host; its certificate is denied from then on')
      .argument('<address>', "the host's address")
      .action(
        action(async (c, _g, address: string) => {
          const r = await c.call('remove_host', { address });
          out(`host ${r.address} removed; certificate serial ${r.deniedSerial} denied`);
        }),
      ),
    'cps-mysql remove-host 10.0.0.12',
  );
}
