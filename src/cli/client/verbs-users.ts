import type { Command } from 'commander';
import { USER_PRIVILEGES } from '../../protocol/app-users.js';
import { readNewPassword } from './prompt.js';
import { table } from './format.js';
import { action, example, out, readVerb as reads } from './verb-kit.js';

const list = (v: string, prev: string[] = []): string[] => [...prev, ...v.split(',').map((x) => x.trim()).filter((x) => x !== '')];

/** The verbs of application accounts: users, create-user, set-user-password, drop-user. Passwords are asked for, never taken from the command line. */
export function registerUserVerbs(program: Command): void {
  example(
    reads(program.command('users').description("the application accounts (the service's own are not listed)")).action(
      action(async (c, g) => {
        const r = await c.call('list_users', {});
        out(g.json ? JSON.stringify(r) : r.users.length === 0 ? '(no application account)' : table(['USER', 'HOST', 'DATABASES', 'PRIVILEGES'], r.users.map((u) => [u.user, u.host, u.databases.join(','), u.privileges.length === USER_PRIVILEGES.length ? 'ALL' : u.privileges.join(',')])));
      }),
    ),
    'cps-mysql users',
  );

  example(
    program
      .command('create-user')
      .description('create an application account on the master (replicas follow); its password is asked twice, or read from standard input')
      .argument('<user>', 'the account name')
      .option('--privileges <list>', `ALL, or some of: ${USER_PRIVILEGES.join(', ')} (comma-separated)`, list, [])
      .option('--database <name>', 'a database it holds them on (repeatable; none: every application database)', list, [])
      .option('--host <host>', "where it may connect from ('%': anywhere)", '%')
      .action(
        action(async (c, _g, user: string, o: { privileges: string[]; database: string[]; host: string }) => {
          const password = await readNewPassword();
          const r = await c.call('create_user', { user, password, host: o.host, privileges: o.privileges.length > 0 ? o.privileges : ['SELECT'], ...(o.database.length > 0 ? { databases: o.database } : {}) });
          out(`account '${r.user}'@'${r.host}' created`);
        }),
      ),
    'cps-mysql create-user shop_ro --privileges SELECT --database shop',
  );

  example(
    program
      .command('set-user-password')
      .description("change an application account's password: asked twice, or read from standard input")
      .argument('<user>', 'the account name')
      .option('--host <host>', 'its host part', '%')
      .action(
        action(async (c, _g, user: string, o: { host: string }) => {
          const r = await c.call('set_user_password', { user, host: o.host, password: await readNewPassword() });
          out(`password of '${r.user}'@'${r.host}' changed`);
        }),
      ),
    'cps-mysql set-user-password shop_ro',
  );

  example(
    program
      .command('drop-user')
      .description('drop an application account')
      .argument('<user>', 'the account name')
      .option('--host <host>', 'its host part', '%')
      .action(
        action(async (c, _g, user: string, o: { host: string }) => {
          const r = await c.call('drop_user', { user, host: o.host });
          out(`account '${r.user}'@'${r.host}' dropped`);
        }),
      ),
    'cps-mysql drop-user shop_ro',
  );
}
