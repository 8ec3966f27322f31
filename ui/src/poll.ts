import { useEffect, useRef, useState } from 'preact/hooks';

/** What a poll last got: the value (kept through a failed read), the last error, and when it answered. */
export interface Polled<T> {
  value: T | null;
  error: Error | null;
  at: number | null;
}

/**
 * Calls `read` now and every `everyMs` while the component lives (a call is never started
 * before the last one ended); `refresh()` reads at once, or right after the read under way. A
 * failed read keeps the last value and sets `error`.
 */
export function usePoll<T>(read: () => Promise<T>, everyMs: number): Polled<T> & { refresh: () => void } {
  const [state, setState] = useState<Polled<T>>({ value: null, error: null, at: null });
  const kick = useRef<() => void>(() => undefined);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    /** A refresh asked for while a read was under way: one more read follows it at once. */
    let again = false;
    const once = async (): Promise<void> => {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      again = false;
      clearTimeout(timer);
      try {
        const value = await read();
        if (!stopped) setState({ value, error: null, at: Date.now() });
      } catch (err) {
        if (!stopped) setState((s) => ({ ...s, error: err as Error }));
      } finally {
        running = false;
        if (!stopped) timer = setTimeout(() => void once(), again ? 0 : everyMs);
      }
    };
    kick.current = () => void once();
    void once();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [everyMs]);
  return { ...state, refresh: () => kick.current() };
}
