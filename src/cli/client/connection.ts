import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { managerApi, type ManagerApi } from '../../protocol/manager-api.js';
import { RpcClient } from '../../rpc/client.js';
import { AppError } from '../../util/errors.js';

/**
 * Where the local manager keeps its state, unless told otherwise: `$CPS_MYSQL_HOME`, else
 * `/var/lib/cps-mysql` for root (whose home directory the unprivileged user that runs mariadbd
 * cannot pass through), else `~/.cps-mysql`.
 */
export function defaultHome(): string {
  const env = process.env['CPS_MYSQL_HOME'];
  if (env) return env;
  return process.getuid?.() === 0 ? '/var/lib/cps-mysql' : join(homedir(), '.cps-mysql');
}

export const DEFAULT_MANAGER_PORT = 8100;

/** The manager to talk to: --manager, then CPS_MYSQL_MANAGER, then the local one (its manager.json). */
export function managerUrl(flag: string | undefined): string {
  if (flag) return flag;
  const env = process.env['CPS_MYSQL_MANAGER'];
  if (env) return env;
  try {
    const info = JSON.parse(readFileSync(join(defaultHome(), 'manager.json'), 'utf8')) as { url?: string };
    if (info.url) return info.url;
  } catch {
    // no local manager file
  }
  return `http://127.0.0.1:${DEFAULT_MANAGER_PORT}/`;
}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** The API token: the one read from --token-file, then CPS_MYSQL_TOKEN, then the local manager's `api-token` file. */
export function managerToken(fromFile: string | undefined): string | null {
  return fromFile ?? (process.env['CPS_MYSQL_TOKEN'] || null) ?? readIfExists(join(defaultHome(), 'api-token'));
}

/** Reads the token from a file, or from standard input for `-`. Throws INVALID_PARAMS naming the file. */
export async function readTokenFile(path: string): Promise<string> {
  let text: string;
  try {
    if (path === '-') {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      text = Buffer.concat(chunks).toString('utf8');
    } else {
      text = readFileSync(path, 'utf8');
    }
  } catch {
    throw new AppError('INVALID_PARAMS', `--token-file: cannot read ${path.slice(0, 200)}`);
  }
  const token = text.split('\n')[0]!.trim();
  if (token === '') throw new AppError('INVALID_PARAMS', `--token-file: ${path === '-' ? 'standard input' : path.slice(0, 200)} holds no token`);
  return token;
}

/** The CA an HTTPS manager's certificate chains to: CPS_MYSQL_CA (a file), then the local manager's. */
function managerCa(): string | null {
  const file = process.env['CPS_MYSQL_CA'] ?? join(defaultHome(), 'pki', 'ca.crt');
  return readIfExists(file);
}

export function managerClient(flag: string | undefined, tokenFromFile?: string): RpcClient<ManagerApi> {
  const url = managerUrl(flag);
  const token = managerToken(tokenFromFile);
  const ca = url.startsWith('https:') ? managerCa() : null;
  return new RpcClient(managerApi, { url, timeoutMs: 60_000, ...(token ? { token } : {}), ...(ca ? { tls: { ca } } : {}) });
}
