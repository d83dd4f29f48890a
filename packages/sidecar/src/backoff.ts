// Waiting between retries against the control plane (exchange, bundle polling, approval polls).

/**
 * Exponential with jitter: `firstMs` doubling to a 5 s cap, each wait between half and all of it;
 * the jitter keeps a fleet of sidecars from retrying in step after an outage.
 */
export function backoffMs(attempt: number, firstMs: number): number {
  const ceiling = Math.min(5_000, firstMs * 2 ** Math.min(attempt, 16));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Resolves after `ms`, or at once when the signal aborts (never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(); };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
