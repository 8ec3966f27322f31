/** Runs async sections one at a time, and tells which one holds the lock. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private holder: string | null = null;

  get busy(): string | null {
    return this.holder;
  }

  /** Runs `fn` once every section queued before it ended; `busy` names it meanwhile. Its result or its error. */
  run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      this.holder = name;
      try {
        return await fn();
      } finally {
        this.holder = null;
      }
    });
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
