// Row shapes of the store's tables and their mapping to API shapes.
import type { SessionSummary } from '@chaperone/core/api';
import type { SessionRecord } from '@chaperone/core/records/types';
import type { SessionRow } from './store.js';

export interface SessionDbRow {
  id: string;
  protocol: string;
  connection: string;
  namespace: string;
  service_account: string;
  started_at: Date;
  ended_at: Date | null;
  record_count: number;
  statements: number;
  denied: number;
  chain_ok: boolean;
  chain_error: string | null;
  last_seq: number | null;
  last_hash: string | null;
}

export interface RecordDbRow {
  session_id: string;
  seq: number;
  time: Date;
  hash: string;
  prev_hash: string;
  event: SessionRecord['event'];
}

export function toSummary(r: SessionDbRow): SessionSummary {
  return {
    id: r.id,
    protocol: r.protocol,
    connection: r.connection,
    identity: { namespace: r.namespace, serviceAccount: r.service_account },
    startedAt: r.started_at.toISOString(),
    endedAt: r.ended_at ? r.ended_at.toISOString() : null,
    records: r.record_count,
    statements: r.statements,
    denied: r.denied,
    chainOk: r.chain_ok,
    chainError: r.chain_error,
  };
}

export function toSessionRow(r: SessionDbRow): SessionRow {
  return { ...toSummary(r), lastSeq: r.last_seq, lastHash: r.last_hash };
}
