import { mkdirSync } from 'node:fs';
import { HaproxyProcess } from '../../src/router/haproxy-process.js';
import { Router } from '../../src/router/router.js';
import { silentLogger } from '../../src/util/logger.js';
import type { BenchManager } from './manager.js';
import { freePort } from './net.js';
import { findProgram } from './tools.js';

/**
 * The product's router (what `cps-mysql router` runs: Debian's HAProxy kept current from the
 * manager), in the bench's process, its HAProxy configuration under `dir` (inside the run's
 * temporary directory, so a run that dies leaves nothing the final sweep does not find).
 */
export class BenchRouter {
  private constructor(
    private readonly router: Router,
    readonly writePort: number,
    readonly readPort: number,
  ) {}

  /** Starts a router for `mgr`'s service on free loopback ports, polling the manager every `pollMs` (as the CLI's default: 500). */
  static async start(mgr: BenchManager, dir: string, pollMs = 500): Promise<BenchRouter> {
    const program = findProgram('haproxy');
    if (!program) throw new Error("haproxy is missing: `node scripts/setup.mjs` (run by `npm run bench`) installs Debian's haproxy as root");
    mkdirSync(dir, { recursive: true });
    const writePort = await freePort();
    let readPort = await freePort();
    while (readPort === writePort) readPort = await freePort();
    const logger = silentLogger();
    const router = new Router(
      { fetchInfo: () => mgr.client.call('get_service_info', {}, { timeoutMs: 2000 }), haproxy: new HaproxyProcess(program, dir, logger), logger },
      { writePort, readPort, maxLagSeconds: 10, bind: '127.0.0.1', pollMs },
    );
    await router.start();
    return new BenchRouter(router, writePort, readPort);
  }

  /** Stops the router and its HAProxy. */
  stop(): Promise<void> {
    return this.router.stop();
  }
}
