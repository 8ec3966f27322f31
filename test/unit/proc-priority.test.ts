import { spawn } from 'node:child_process';
import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { lowerPriority, run, spawnOutput, terminate, waitExit } from '../../src/util/proc.js';

/** The nice value a shell reports for itself. */
// After a pause: the priority is set just after the spawn, not before the program starts.
const SELF_NICE = ['-c', 'sleep 0.1; cut -d" " -f19 /proc/$$/stat'];

describe('child processes at a lower CPU priority (the copies beside a serving server)', () => {
  it('run({nice}) runs the program at that nice value; without it, at ours', async () => {
    expect((await run('sh', SELF_NICE, { nice: 10 })).stdout.trim()).toBe(String(Math.max(10, getPriority())));
    expect((await run('sh', SELF_NICE)).stdout.trim()).toBe(String(getPriority()));
  });

  it('spawnOutput({nice}) streams the output of a program running at that nice value', async () => {
    const { stream } = spawnOutput('sh', SELF_NICE, { nice: 12 });
    let out = '';
    for await (const c of stream) out += String(c);
    expect(out.trim()).toBe(String(Math.max(12, getPriority())));
  });

  it('a child that has already exited is left alone, without an error', async () => {
    const child = spawn('true');
    await waitExit(child);
    expect(() => lowerPriority(child, 10)).not.toThrow();
  });
});

describe('terminate: a child that does not act on SIGTERM cannot hold its caller', () => {
  it('stops a child that exits on SIGTERM with it, and kills one that ignores it after the grace', async () => {
    const polite = spawn('sleep', ['30'], { stdio: 'ignore' });
    terminate(polite, 200);
    expect((await waitExit(polite)).signal).toBe('SIGTERM');
    // As socat looping in a TLS handshake was seen to do: SIGTERM caught, nothing done.
    const deaf = spawn('sh', ['-c', 'trap "" TERM; while :; do sleep 0.05; done'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 100));
    terminate(deaf, 200);
    expect((await waitExit(deaf)).signal).toBe('SIGKILL');
  });
});
