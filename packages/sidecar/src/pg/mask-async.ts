// Messages that carry values outside any result: a NOTIFY payload (`pg_notify('ch', email)` on a
// channel the agent listens on) and a reported setting (`set_config('application_name', ssn,
// false)` comes back as ParameterStatus). On a masked connection they are scrubbed like errors.
import { encodeParameterStatus } from './encode.js';
import { B } from './messages.js';
import type { DetectFn, MaskTally } from './mask-rows.js';

const TOKEN = '[MASKED]';

/**
 * Reported settings whose values the server checks against a fixed set (or that the agent cannot
 * set): they cannot carry a column's value. Any other (application_name, search_path, an
 * extension's setting) passes only with a value the agent's recent statements spell out.
 */
const CHECKED_SETTINGS: ReadonlySet<string> = new Set([
  'client_encoding', 'DateStyle', 'IntervalStyle', 'TimeZone', 'integer_datetimes', 'is_superuser', 'server_encoding',
  'server_version', 'session_authorization', 'standard_conforming_strings', 'in_hot_standby', 'scram_iterations',
  'default_transaction_read_only',
]);

/** NotificationResponse: int32 pid, channel\0, payload\0. Null: pass it as it is. */
export function scrubNotification(frame: Buffer, columnRules: boolean, detect: DetectFn | undefined, tally: MaskTally): Buffer | null {
  const c = frame.indexOf(0, 9);
  const p = c < 0 ? -1 : frame.indexOf(0, c + 1);
  if (p < 0) return columnRules || detect ? notification(frame.subarray(5, 9), '', TOKEN) : null; // malformed: withheld
  const payload = frame.toString('utf8', c + 1, p);
  if (payload === '') return null;
  const channel = frame.toString('utf8', 9, c);
  // Any column's value may be in it, and nothing says which: withheld whole under column rules.
  if (columnRules) return notification(frame.subarray(5, 9), channel, TOKEN);
  const found = detect?.(payload);
  if (!found) return null;
  for (const h of found.hits) tally.detector(h.rule, h.detector);
  return notification(frame.subarray(5, 9), channel, found.text);
}

/** ParameterStatus: name\0, value\0. `recent`: the agent's latest statement texts. Null: pass it. */
export function scrubParameterStatus(frame: Buffer, columnRules: boolean, recent: readonly string[]): Buffer | null {
  if (!columnRules) return null;
  const n = frame.indexOf(0, 5);
  const v = n < 0 ? -1 : frame.indexOf(0, n + 1);
  if (v < 0) return null; // malformed: the session's own decoder refuses it
  const name = frame.toString('utf8', 5, n);
  const value = frame.toString('utf8', n + 1, v);
  if (value === '' || CHECKED_SETTINGS.has(name)) return null;
  const lower = value.toLowerCase();
  return recent.some((t) => t.toLowerCase().includes(lower)) ? null : encodeParameterStatus(name, TOKEN);
}

function notification(pid: Buffer, channel: string, payload: string): Buffer {
  const body = Buffer.concat([pid, Buffer.from(`${channel}\0${payload}\0`, 'utf8')]);
  const head = Buffer.alloc(5);
  head[0] = B.NotificationResponse;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
