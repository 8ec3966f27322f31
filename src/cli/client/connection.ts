import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { managerApi, type ManagerApi } from '../../protocol/manager-api.js';
import { RpcClient } from '../../rpc/client.js';

/** Where the local manager keeps its state, unless told otherwise. */
export function defaultHome(): string {
  return process.env['CPS_MYSQL_HOME'] ?? join(homedir(), '.cps-mysql');
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

/** The API token: --token, then CPS_MYSQL_TOKEN, then the local manager's `api-token` file. */
export function managerToken(flag: string | undefined): string | null {
  return flag ?? process.env['CPS_MYSQL_TOKEN'] ?? readIfExists(join(defaultHome(), 'api-token'));
}

/** The CA an HTTPS manager's certificate chains to: CPS_MYSQL_CA (a file), then the local manager's. */
function managerCa(): string | null {
  const file = process.env['CPS_MYSQL_CA'] ?? join(defaultHome(), 'pki', 'ca.crt');
  return readIfExists(file);
}

export function managerClient(flag: string | undefined, tokenFlag?: string): RpcClient<ManagerApi> {
  const url = managerUrl(flag);
  const token = managerToken(tokenFlag);
  const ca = url.startsWith('https:') ? managerCa() : null;
  return new RpcClient(managerApi, { url, timeoutMs: 60_000, ...(token ? { token } : {}), ...(ca ? { tls: { ca } } : {}) });
}
