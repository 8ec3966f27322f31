import { InvalidArgumentError, type Command } from 'commander';
import type { ManagerApi } from '../../protocol/manager-api.js';
import type { RpcClient } from '../../rpc/client.js';
import { AppError, messageOf } from '../../util/errors.js';
import { clientConfig, managerClient, readTokenFile } from './connection.js';
import { formatInfo } from './format.js';
import { waitForOperation } from './wait.js';

/** The options every client verb has (set on the program). */
export interface Globals {
  /** `--manager URL`. */
  manager?: string;
  /** `--token`: refused (it would show in the process list). */
  token?: string;
  /** `--token-file FILE` (`-`: standard input). */
  tokenFile?: string;
  /** `--json`: print the raw result. */
  json?: boolean;
  /** false with `--no-wait`. */
  wait?: boolean;
}

/** Prints a line on standard output. */
export const out = (s: string): void => void process.stdout.write(`${s}\n`);
/** Prints a line on standard error. */
export const err = (s: string): void => void process.stderr.write(`${s}\n`);

/** Parses a count of replicas (1 to 16). */
export function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 16) throw new InvalidArgumentError('must be a whole number from 1 to 16');
  return n;
}

/** Runs a verb: any failure is printed once with the manager's reason, and exits 1. */
export function action<A extends unknown[]>(fn: (client: RpcClient<ManagerApi>, g: Globals, ...args: A) => Promise<void>) {
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
    let url = '';
    try {
      const config = clientConfig({ manager: g.manager, tokenFromFile: g.tokenFile === undefined ? undefined : await readTokenFile(g.tokenFile) });
      url = config.managerUrl;
      client = managerClient(config);
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
        err(`cps-mysql: the manager at ${url} refused the API token; give it with --token-file or CPS_MYSQL_TOKEN (it is in the manager's data directory, file api-token)`);
      } else if (code === 'PEER_FAILED' || code === 'TIMEOUT') {
        err(`cps-mysql: cannot reach the manager at ${url} (${messageOf(e)}); start one with 'cps-mysql manager' or name it with --manager`);
      } else {
        err(`cps-mysql: ${messageOf(e)}`);
      }
      process.exitCode = 1;
    }
  };
}

/** After a long operation was accepted: follow it unless --no-wait, and report how it ended. */
export async function follow(client: RpcClient<ManagerApi>, g: Globals, since: string, accepted: { state: string }): Promise<void> {
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

/** Adds an example to a verb's --help. */
export function example(cmd: Command, text: string): Command {
  return cmd.addHelpText('after', `\nExample:\n  ${text}\n`);
}


/** Adds --no-wait to a verb that starts a long operation. */
export const longVerb = (cmd: Command): Command => cmd.option('--no-wait', 'return once the manager accepted the operation');
/** Adds --json to a verb that reads. */
export const readVerb = (cmd: Command): Command => cmd.option('--json', 'print the raw result as JSON, for scripts');
