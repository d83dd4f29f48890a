// In-process wake-ups for long polls: a waiter sleeps until woken by key, a timeout or an abort.
export class Wakeups {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Resolves `woken`, `timeout` or `aborted`; never rejects. */
  wait(key: string, timeoutMs: number, signal: AbortSignal): Promise<'woken' | 'timeout' | 'aborted'> {
    if (signal.aborted) return Promise.resolve('aborted');
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      const done = (result: 'woken' | 'timeout' | 'aborted'): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
        resolve(result);
      };
      const wake = (): void => done('woken');
      const onAbort = (): void => done('aborted');
      const timer = setTimeout(() => done('timeout'), Math.max(0, timeoutMs));
      set.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  wake(key: string): void {
    for (const fn of [...(this.waiters.get(key) ?? [])]) fn();
  }

  /** Waiters currently asleep (tests check nothing leaks). */
  get size(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }
}
