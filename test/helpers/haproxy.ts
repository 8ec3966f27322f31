import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { sleep } from '../../src/util/proc.js';

/** A real HAProxy (Debian's), run in the foreground by the test and stopped by its PID. */
export class Haproxy {
  private child: ChildProcess | null = null;
  private output = '';
  private readonly dir = mkdtempSync(join(tmpdir(), 'cps-haproxy-'));

  async start(config: string, writePort: number): Promise<void> {
    await this.stop();
    const file = join(this.dir, 'haproxy.cfg');
    writeFileSync(file, config);
    const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (c: Buffer) => (this.output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.child = child;
    const deadline = Date.now() + 10_000;
    while (!(await listening(writePort))) {
      if (child.exitCode !== null) throw new Error(`haproxy exited: ${this.output}`);
      if (Date.now() > deadline) throw new Error(`haproxy does not listen: ${this.output}`);
      await sleep(50);
    }
  }

  get logs(): string {
    return this.output;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  async cleanup(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
