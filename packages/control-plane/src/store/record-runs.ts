// Records as runs (record_runs, migration 3): a batch's records grouped per session into
// contiguous runs for one INSERT, their JSON joined as ingest encoded it, never serialised again.
import { cpError } from '../errors.js';
import type { EncodedRecord } from './store.js';

/**
 * Splits the texts of several runs (or records) travelling as one text parameter. JSON text as
 * JSON.stringify writes it holds no raw line feed (inside strings it is escaped as \n), so the
 * texts need no escaping, unlike the elements of a text[] literal.
 */
export const TEXT_SEPARATOR = '\n';

/** The parameters of the run insert (batch-tx.ts): parallel arrays, texts joined by TEXT_SEPARATOR. */
export interface RunsInsert {
  /** Runs of records above their session's greatest stored seq: none of them can be stored yet. */
  runs: { sessions: string[]; firsts: number[]; lasts: number[]; texts: string };
  /** Records at or below it, one by one: the statement looks them up and groups those not stored. */
  below: { sessions: string[]; seqs: number[]; texts: string };
}

/**
 * Plans the insert of `records` (no (session, seq) twice). `top(session)` is the greatest stored
 * seq of the session (-1 when none), so only records at or below it can be stored already.
 */
export function planRunsInsert(records: readonly EncodedRecord[], top: (session: string) => number): RunsInsert {
  const plan: RunsInsert = {
    runs: { sessions: [], firsts: [], lasts: [], texts: '' },
    below: { sessions: [], seqs: [], texts: '' },
  };
  let runTexts = '';
  let belowTexts = '';
  for (const [session, list] of bySessionAndSeq(records)) {
    const limit = top(session);
    let first = -1;
    let last = -1;
    let text = '';
    const close = (): void => {
      if (first < 0) return;
      plan.runs.sessions.push(session);
      plan.runs.firsts.push(first);
      plan.runs.lasts.push(last);
      runTexts += plan.runs.sessions.length === 1 ? `${text}]` : `${TEXT_SEPARATOR}${text}]`;
      first = -1;
    };
    for (const { record, json } of list) {
      if (json.includes(TEXT_SEPARATOR)) {
        throw cpError('API_ERR_INTERNAL', `record ${session}#${record.seq}: its encoded JSON holds a raw line feed`);
      }
      if (record.seq <= limit) {
        belowTexts += plan.below.sessions.length === 0 ? json : `${TEXT_SEPARATOR}${json}`;
        plan.below.sessions.push(session);
        plan.below.seqs.push(record.seq);
      } else if (first >= 0 && record.seq === last + 1) {
        text += `,${json}`;
        last = record.seq;
      } else {
        close();
        first = record.seq;
        last = record.seq;
        text = `[${json}`;
      }
    }
    close();
  }
  plan.runs.texts = runTexts;
  plan.below.texts = belowTexts;
  return plan;
}

/** The records grouped by session, each group in seq order (ingest's order already; sorted if not). */
function bySessionAndSeq(records: readonly EncodedRecord[]): Map<string, EncodedRecord[]> {
  const groups = new Map<string, EncodedRecord[]>();
  for (const r of records) {
    const list = groups.get(r.record.session);
    if (list) list.push(r);
    else groups.set(r.record.session, [r]);
  }
  for (const list of groups.values()) {
    for (let i = 1; i < list.length; i++) {
      if (list[i]!.record.seq < list[i - 1]!.record.seq) {
        list.sort((a, b) => a.record.seq - b.record.seq);
        break;
      }
    }
  }
  return groups;
}

/** The seqs a RETURNING of inserted runs stands for, by session. */
export function insertedSeqs(rows: readonly { session_id: string; first_seq: number; last_seq: number }[]): Map<string, Set<number>> {
  const inserted = new Map<string, Set<number>>();
  for (const r of rows) {
    const set = inserted.get(r.session_id) ?? new Set<number>();
    for (let seq = r.first_seq; seq <= r.last_seq; seq++) set.add(seq);
    inserted.set(r.session_id, set);
  }
  return inserted;
}
