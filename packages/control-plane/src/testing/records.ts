// Test helper: sealed session records, as a sidecar would send them.
import { GENESIS_HASH, sealRecord } from '@chaperone/core/records/chain';
import type { Identity, RecordEvent, SessionRecord } from '@chaperone/core/records/types';

/** A chain of `statements` statements between a start and (optionally) an end record. */
export function sessionChain(session: string, identity: Identity, opts: { statements?: number; denied?: number; end?: boolean; connection?: string; start?: Date } = {}): SessionRecord[] {
  const events: RecordEvent[] = [{ type: 'session.start', protocol: 'postgres', connection: opts.connection ?? 'orders-db', identity, client: { user: 'agent' } }];
  const n = opts.statements ?? 2;
  for (let i = 0; i < n; i++) {
    const deny = i < (opts.denied ?? 0);
    events.push({
      type: 'statement', text: deny ? 'DROP TABLE t' : `SELECT ${i}`, flow: 'simple', kinds: [deny ? 'drop' : 'select'], tables: [],
      decision: deny ? { action: 'deny', policy: 'support-agents', rule: 'support-agents#0', message: 'no' } : { action: 'allow', policy: 'support-agents', rule: 'default' },
    });
  }
  if (opts.end !== false) events.push({ type: 'session.end', reason: 'client', statements: n, durationMs: 5 });
  const start = (opts.start ?? new Date()).getTime();
  const out: SessionRecord[] = [];
  let prev = GENESIS_HASH;
  events.forEach((e, seq) => {
    const r = sealRecord(session, seq, prev, e, new Date(start + seq));
    out.push(r);
    prev = r.hash;
  });
  return out;
}
