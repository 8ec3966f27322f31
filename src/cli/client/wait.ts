import type { ManagerApi, ServiceInfo } from '../../protocol/manager-api.js';
import type { RpcClient } from '../../rpc/client.js';
import { sleep } from '../../util/proc.js';

const BUSY_STATES = new Set(['PROLOGUE', 'ADAPTING', 'EPILOGUE']);

/** How waiting for an operation ended. */
export interface WaitResult {
  /** The service when the wait ended. */
  info: ServiceInfo;
  /** True when the user stopped waiting (Ctrl-C); the operation goes on. */
  interrupted: boolean;
}

/**
 * Follows the operation under way: prints each step as the manager takes it, until the
 * service settles. Ctrl-C stops the waiting, not the operation.
 */
export async function waitForOperation(
  client: RpcClient<ManagerApi>,
  since: string,
  print: (line: string) => void,
  options?: { pollMs?: number; timeoutMs?: number },
): Promise<WaitResult> {
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  const printed = new Set<string>();
  const deadline = Date.now() + (options?.timeoutMs ?? 3_600_000);
  try {
    for (;;) {
      const info = await client.call('get_service_info', {});
      for (const e of info.events) {
        const key = `${e.at} ${e.message}`;
        if (e.at >= since && !printed.has(key)) {
          printed.add(key);
          print(`  ${e.at.slice(11, 19)}  ${e.message}`);
        }
      }
      if (!BUSY_STATES.has(info.state) && info.operation === null) return { info, interrupted: false };
      if (interrupted || Date.now() > deadline) return { info, interrupted: true };
      await sleep(options?.pollMs ?? 300);
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
