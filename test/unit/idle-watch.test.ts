import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { ioBytes, killWhenIdle, watchIdle } from '../../src/util/idle-watch.js';
import { waitExit } from '../../src/util/proc.js';

/** Real processes: one that reads and writes nothing, one kept busy. */
describe('watchIdle: a copy between two programs that nothing else bounds', () => {
  const children: ReturnType<typeof spawn>[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await waitExit(c).catch(() => undefined);
      }
    }
  });

  it('calls onIdle once for a process that moves no byte, and never for one that keeps moving bytes', async () => {
    const still = spawn('sleep', ['30'], { stdio: 'ignore' });
    const busy = spawn('cat', [], { stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(still, busy);
    expect(ioBytes(busy.pid!)).not.toBeNull();
    const feeding = setInterval(() => busy.stdin!.write(Buffer.alloc(4096)), 20);
    let stillIdle = 0;
    let busyIdle = 0;
    const stops = [watchIdle(still.pid!, 300, () => stillIdle++, 50), watchIdle(busy.pid!, 300, () => busyIdle++, 50)];
    await new Promise((r) => setTimeout(r, 900));
    clearInterval(feeding);
    for (const stop of stops) stop();
    expect(stillIdle).toBe(1);
    expect(busyIdle).toBe(0);
  });

  it('killWhenIdle kills a child that moves no byte and says so', async () => {
    const still = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(still);
    // The watch's own 5 s look: this test waits for one look past the bound.
    const idle = killWhenIdle(still, 100);
    expect(idle.fired).toBe(false);
    expect((await waitExit(still)).signal).toBe('SIGKILL');
    expect(idle.fired).toBe(true);
    idle.stop();
  }, 15_000);

  it('does not watch a process whose counters cannot be read (it is gone)', async () => {
    const gone = spawn('true', [], { stdio: 'ignore' });
    await waitExit(gone);
    expect(ioBytes(gone.pid!)).toBeNull();
    let idle = 0;
    watchIdle(gone.pid!, 10, () => idle++, 20);
    await new Promise((r) => setTimeout(r, 200));
    expect(idle).toBe(0);
  });
});
