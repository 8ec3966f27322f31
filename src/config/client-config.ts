import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * What the CLI's client verbs talk to, resolved once per command: the command line first, then
 * the environment (`CPS_MYSQL_MANAGER`, `CPS_MYSQL_TOKEN`, `CPS_MYSQL_CA`, `CPS_MYSQL_HOME`), then
 * the local manager's data directory.
 */
export interface ClientConfig {
  /** The local manager's data directory. */
  home: string;
  /** The manager's URL. */
  managerUrl: string;
  /** The API token, or null when none is known. */
  token: string | null;
  /** The CA an HTTPS manager's certificate must chain to (PEM), or null. */
  ca: string | null;
}

/** The port the demo's and a local manager's API listen on. */
export const DEFAULT_MANAGER_PORT = 8100;

/**
 * Where the local manager keeps its state, unless told otherwise: `$CPS_MYSQL_HOME`, else
 * `/var/lib/cps-mysql` for root (whose home directory the unprivileged user that runs mariadbd
 * cannot pass through), else `~/.cps-mysql`.
 */
export function defaultHome(env: NodeJS.ProcessEnv): string {
  const home = env['CPS_MYSQL_HOME'];
  if (home) return home;
  return process.getuid?.() === 0 ? '/var/lib/cps-mysql' : join(homedir(), '.cps-mysql');
}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * The client's configuration: `manager` (--manager), then CPS_MYSQL_MANAGER, then the URL in the
 * local manager.json; the token read from --token-file, then CPS_MYSQL_TOKEN, then the local
 * api-token file; for an HTTPS manager, CPS_MYSQL_CA (a file), then the local CA.
 */
export function resolveClientConfig(env: NodeJS.ProcessEnv, flags: { manager?: string | undefined; tokenFromFile?: string | undefined }): ClientConfig {
  const home = defaultHome(env);
  let managerUrl = flags.manager || env['CPS_MYSQL_MANAGER'] || '';
  if (!managerUrl) {
    try {
      managerUrl = (JSON.parse(readFileSync(join(home, 'manager.json'), 'utf8')) as { url?: string }).url ?? '';
    } catch {
      // no local manager file
    }
  }
  if (!managerUrl) managerUrl = `http://127.0.0.1:${DEFAULT_MANAGER_PORT}/`;
  const token = flags.tokenFromFile ?? (env['CPS_MYSQL_TOKEN'] || null) ?? readIfExists(join(home, 'api-token'));
  const ca = managerUrl.startsWith('https:') ? readIfExists(env['CPS_MYSQL_CA'] ?? join(home, 'pki', 'ca.crt')) : null;
  return { home, managerUrl, token, ca };
}
