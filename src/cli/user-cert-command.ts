import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ManagerCredentials } from '../app/credentials.js';
import { defaultHome } from '../config/client-config.js';
import { messageOf } from '../util/errors.js';

/**
 * `cps-mysql user-cert NAME`: a client certificate of the service CA with ConPaaS's `user` role,
 * for clients that authenticate the ConPaaS way (mutual TLS) to a manager run with `--tls`.
 * Run where the manager's data directory is (it holds the CA's key).
 */
export function registerUserCertCommand(program: Command): void {
  program
    .command('user-cert')
    .description("issue a client certificate (role user) from the service's CA: a ConPaaS client presents it instead of the API token to a manager run with --tls")
    .argument('<name>', 'the user (letters, digits, space, _ . -)')
    .option('--data-dir <dir>', "the manager's data directory", defaultHome(process.env))
    .option('--out <dir>', 'where to write cert.pem, key.pem and ca_cert.pem (ConPaaS names)', '.')
    .addHelpText('after', '\nExample:\n  cps-mysql user-cert alice --out ~/.conpaas\n')
    .action(async (name: string, opts: { dataDir: string; out: string }) => {
      try {
        const creds = new ManagerCredentials(resolve(opts.dataDir));
        await creds.init();
        const out = resolve(opts.out);
        mkdirSync(out, { recursive: true, mode: 0o700 });
        const files = await creds.issueUserCertificate(name, out);
        process.stdout.write(`${files.cert}\n${files.key}\n${files.ca}\n`);
      } catch (e) {
        process.stderr.write(`cps-mysql user-cert: ${messageOf(e)}\n`);
        process.exitCode = 1;
      }
    });
}
