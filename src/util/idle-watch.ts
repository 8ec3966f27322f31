import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** How often (ms) an idle watch looks at its process's I/O counters. */
const LOOK_MS = 5_000;

/** The bytes a process has read and written so far (`rchar` + `wchar` of /proc/<pid>/io), or null when they cannot be read. */
export function ioBytes(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/io`, 'utf8');
    const r = /^rchar:\s*(\d+)/m.exec(text);
    const w = /^wchar:\s*(\d+)/m.exec(text);
    return r && w ? Number(r[1]) + Number(w[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Calls `onIdle` once when the process `pid` has neither read nor written a byte for `idleMs`
 * milliseconds (its /proc I/O counters unchanged), looking every `lookMs` — the bound on a copy
 * between two programs that no relay with its own idle timeout watches (a stalled sender, a
 * reader that stopped reading). A process whose counters cannot be read (it ended, or belongs to
 * a user this one may not inspect) is not watched. Returns the function that stops the watch.
 */
export function watchIdle(pid: number, idleMs: number, onIdle: () => void, lookMs = LOOK_MS): () => void {
  let last = ioBytes(pid);
  let since = Date.now();
  const timer = setInterval(() => {
    const now = ioBytes(pid);
    if (now === null) return stop();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= idleMs) {
      stop();
      onIdle();
    }
  }, lookMs);
  timer.unref();
  function stop(): void {
    clearInterval(timer);
  }
  return stop;
}

/**
 * Kills `child` (SIGKILL) once it has moved no byte for `idleMs` (watchIdle). `stop` ends the
 * watch; `fired` says afterwards whether the child was killed for it.
 */
export function killWhenIdle(child: ChildProcess, idleMs: number): { stop: () => void; readonly fired: boolean } {
  let fired = false;
  const stop =
    child.pid !== undefined
      ? watchIdle(child.pid, idleMs, () => {
          fired = true;
          child.kill('SIGKILL');
        })
      : () => undefined;
  return {
    stop,
    get fired() {
      return fired;
    },
  };
}
