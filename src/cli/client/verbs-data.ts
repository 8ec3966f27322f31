import { createReadStream, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { AppError } from '../../util/errors.js';
import { readNewPassword } from './prompt.js';
import { action, example, out } from './verb-kit.js';

/** The verbs of the service's data and credentials: passwords, dumps, the log. */
export function registerDataVerbs(program: Command): void {
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
          const r = await c.call('set_password', { password: await readNewPassword() });
          out(`password of ${r.user} changed`);
        }),
      ),
    'cps-mysql set-password',
  );

  example(
    program
      .command('dump')
      .description('a logical dump of the user databases, streamed to standard output')
      .option('--for-mysql', "leave out mariadb-dump's first line (the sandbox mode), which MySQL's and older MariaDB's clients refuse")
      .action(
        action(async (c, _g, opts: { forMysql?: boolean }) => {
          await pipeline(await c.stream('sqldump', opts.forMysql ? { compatible: 'mysql' } : {}), process.stdout);
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
          out(`loaded ${r.bytes} bytes, ${r.statements} statements${r.schemas.length > 0 ? ` into ${r.schemas.join(', ')}` : ''}`);
          for (const w of r.warnings) out(`warning: ${w}`);
          for (const [id, v] of Object.entries(r.replicas)) out(`${id}: ${v}`);
        }),
      ),
    'cps-mysql load-dump backup.sql',
  );

  example(
    program
      .command('logs')
      .description("the manager's recent log, as lines to read (--json: the log file's JSON lines)")
      .option('--json', "the log file's own JSON lines, for scripts")
      .action(
        action(async (c, g) => {
          out((await c.call('getLog', g.json ? { format: 'json' } : {})).log.trimEnd());
        }),
      ),
    'cps-mysql logs',
  );

}
