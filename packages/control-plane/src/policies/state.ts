// The loaded policy documents, the bundle each identity gets, and wake-ups for long polls.
import { createHash } from 'node:crypto';
import type { AccessPolicyDoc, ConnectionDoc, PolicyBundle, PolicyDoc } from '@chaperone/core/policy/types';
import { needsPodLabels, policiesForIdentity, type PodLabels } from '@chaperone/core/policy/subjects';
import { canonicalJson } from '@chaperone/core/records/chain';
import type { Identity } from '@chaperone/core/records/types';

export type ReloadResult = { ok: true; documents: number; changed: boolean } | { ok: false; error: string };

export type WaitResult = 'changed' | 'timeout' | 'closed';

export class PolicyState {
  private docs: readonly PolicyDoc[] = [];
  private loadedOnce = false;
  private closed = false;
  /** Bumped on every successful reload that changed something; long polls wait for it to move. */
  private gen = 0;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly load: () => Promise<PolicyDoc[]>) {}

  get loaded(): boolean {
    return this.loadedOnce;
  }

  get generation(): number {
    return this.gen;
  }

  /** Reads the documents again; on failure the previous documents stay in force. */
  async reload(): Promise<ReloadResult> {
    let next: PolicyDoc[];
    try {
      next = await this.load();
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
    const changed = !this.loadedOnce || canonicalJson(next) !== canonicalJson(this.docs);
    this.docs = next;
    this.loadedOnce = true;
    if (changed) {
      this.gen++;
      this.wake();
    }
    return { ok: true, documents: next.length, changed };
  }

  /**
   * What the identity may use: the AccessPolicies whose subjects match it (podSelector subjects
   * only with `podLabels`, the labels of its pod) and the Connections they name (restricted to
   * `only` when given). undefined when no policy matches.
   */
  bundleFor(identity: Identity, only?: readonly string[], podLabels?: PodLabels): PolicyBundle | undefined {
    const policies = sortByName(policiesForIdentity(this.accessPolicies(), identity, podLabels));
    if (policies.length === 0) return undefined;
    const named = new Set(policies.flatMap((p) => p.spec.connections));
    const wanted = only ? new Set(only) : undefined;
    const connections = sortByName(this.docs.filter((d): d is ConnectionDoc =>
      d.kind === 'Connection' && named.has(d.metadata.name) && (!wanted || wanted.has(d.metadata.name))));
    const version = createHash('sha256').update(canonicalJson({ connections, policies })).digest('hex');
    return { version, connections, policies };
  }

  /** Whether some policy selects pods in the identity's namespace, so its pod's labels matter. */
  needsPodLabels(identity: Identity): boolean {
    return needsPodLabels(this.accessPolicies(), identity);
  }

  private accessPolicies(): AccessPolicyDoc[] {
    return this.docs.filter((d): d is AccessPolicyDoc => d.kind === 'AccessPolicy');
  }

  /** Resolves when the generation moves past `since`, after `timeoutMs`, or on close. */
  waitForChange(since: number, timeoutMs: number, signal?: AbortSignal): Promise<WaitResult> {
    // An already-aborted signal never fires 'abort' again: answer now (a poll that reaches here
    // after shutdown began would otherwise wait its full timeout).
    if (this.closed || signal?.aborted) return Promise.resolve('closed');
    if (this.gen !== since) return Promise.resolve('changed');
    return new Promise((resolve) => {
      const done = (result: WaitResult): void => {
        clearTimeout(timer);
        this.waiters.delete(onWake);
        signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const onWake = (): void => done(this.closed ? 'closed' : 'changed');
      const onAbort = (): void => done('closed');
      const timer = setTimeout(() => done('timeout'), Math.max(0, timeoutMs));
      this.waiters.add(onWake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Wakes every waiting poll with 'closed' (shutdown). */
  close(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

function sortByName<T extends { metadata: { name: string } }>(docs: readonly T[]): T[] {
  return [...docs].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
}
