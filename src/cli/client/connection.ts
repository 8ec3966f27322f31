import { readFileSync } from 'node:fs';
import { resolveClientConfig, type ClientConfig } from '../../config/client-config.js';
import { managerApi, type ManagerApi } from '../../protocol/manager-api.js';
import { RpcClient } from '../../rpc/client.js';
import { AppError } from '../../util/errors.js';

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

/** A typed client for the manager the configuration names, with its token and CA. */
export function managerClient(config: ClientConfig): RpcClient<ManagerApi> {
  return new RpcClient(managerApi, {
    url: config.managerUrl,
    timeoutMs: 60_000,
    ...(config.token ? { token: config.token } : {}),
    ...(config.ca ? { tls: { ca: config.ca } } : {}),
  });
}

/** The client configuration of this process (config/client-config.ts). */
export function clientConfig(flags: { manager?: string | undefined; tokenFromFile?: string | undefined }): ClientConfig {
  return resolveClientConfig(process.env, flags);
}
