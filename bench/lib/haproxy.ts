import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { haproxyConfig } from '../../src/cli/client/haproxy.js';
import type { ServiceInfo } from '../../src/protocol/manager-api.js';
import { freePort } from './net.js';
import { sleep, spawnTracked, stopChild } from './proc.js';
import { findProgram } from './tools.js';

function listening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Debian's `haproxy`, run in the foreground (`-db`) with the configuration the product generates
 * (`haproxyConfig`, as `cps-mysql haproxy-config` prints it) for the service's current nodes.
 * Tracked and stopped by its pid like every other process of the run.
 */
export class BenchHaproxy {
  private constructor(
    private readonly child: ChildProcess,
    readonly writePort: number,
    readonly readPort: number,
    private readonly logFile: string,
  ) {}

  /** Writes `<base>.cfg` for `info`'s nodes and starts HAProxy; resolves once its write port listens. */
  static async start(info: ServiceInfo, base: string): Promise<BenchHaproxy> {
    const program = findProgram('haproxy');
    if (!program) throw new Error("haproxy is missing: `node scripts/setup.mjs` (run by `npm run bench`) installs Debian's haproxy as root");
    const writePort = await freePort();
    let readPort = await freePort();
    while (readPort === writePort) readPort = await freePort();
    const cfg = `${base}.cfg`;
    writeFileSync(cfg, haproxyConfig(info, { writePort, readPort, maxLagSeconds: 10, bind: '127.0.0.1' }));
    const logFile = `${base}.log`;
    const out = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawnTracked('haproxy', program, ['-db', '-f', cfg], { stdio: ['ignore', out, out] });
    } finally {
      closeSync(out);
    }
    const h = new BenchHaproxy(child, writePort, readPort, logFile);
    const deadline = Date.now() + 10_000;
    while (!(await listening(writePort))) {
      if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}: ${h.logTail()}`);
      if (Date.now() > deadline) throw new Error(`haproxy does not listen on ${writePort}: ${h.logTail()}`);
      await sleep(20);
    }
    return h;
  }

  logTail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
    } catch {
      return '';
    }
  }

  stop(): Promise<void> {
    return stopChild(this.child, 5000);
  }
}
