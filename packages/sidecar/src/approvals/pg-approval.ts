// The PostgreSQL side of a held statement, as pure functions: the Bind parameters an approval
// covers, and the ErrorResponse the agent gets when a held statement does not run.
import type { Decision } from '@chaperone/core/decision';
import type { ErrorFields } from '../pg/messages.js';
import type { ApprovalOutcome } from './gate.js';

type ApproveDecision = Extract<Decision, { action: 'approve' }>;

/**
 * A refusal that is not a decision of an approver: the agent gave up (CancelRequest), so it gets
 * exactly what PostgreSQL sends for a cancelled statement.
 */
export const CANCELED_FIELDS: ErrorFields = { S: 'ERROR', V: 'ERROR', C: '57014', M: 'canceling statement due to user request' };

/**
 * The parameters of a Bind message ('B'), as the approver sees them: text-format values as text,
 * binary-format values as `\x` + hex (PostgreSQL's bytea notation), NULL as null. Null when the
 * message is malformed (the server will refuse it; the approval request then says so).
 *
 * Bind: int32 length, portal\0, statement\0, int16 nFormats, int16[nFormats], int16 nParams,
 * nParams × (int32 length (-1 = NULL), bytes), int16 nResultFormats, int16[…].
 */
export function decodeBindParams(frame: Buffer): (string | null)[] | null {
  let pos = 5;
  for (let i = 0; i < 2; i++) {
    const end = frame.indexOf(0, pos);
    if (end < 0) return null;
    pos = end + 1;
  }
  if (pos + 2 > frame.length) return null;
  const nFormats = frame.readInt16BE(pos); pos += 2;
  if (nFormats < 0 || pos + nFormats * 2 + 2 > frame.length) return null;
  const formats: number[] = [];
  for (let i = 0; i < nFormats; i++) { formats.push(frame.readInt16BE(pos)); pos += 2; }
  const nParams = frame.readInt16BE(pos); pos += 2;
  if (nParams < 0 || (nFormats > 1 && nFormats !== nParams)) return null;
  const params: (string | null)[] = [];
  for (let i = 0; i < nParams; i++) {
    if (pos + 4 > frame.length) return null;
    const len = frame.readInt32BE(pos); pos += 4;
    if (len === -1) { params.push(null); continue; }
    if (len < 0 || pos + len > frame.length) return null;
    const format = nFormats === 0 ? 0 : nFormats === 1 ? formats[0] : formats[i];
    params.push(format === 1 ? `\\x${frame.toString('hex', pos, pos + len)}` : frame.toString('utf8', pos, pos + len));
    pos += len;
  }
  return params;
}

/**
 * The ErrorResponse for a held statement that does not run. SQLSTATEs: denied and unavailable are
 * 42501 (insufficient_privilege, as a deny rule); expired is 57014 (query_canceled), the code
 * PostgreSQL gives a statement ended by statement_timeout; a CancelRequest is 57014 as in PostgreSQL.
 */
export function refusalFields(outcome: Exclude<ApprovalOutcome, { state: 'approved' }>, decision: ApproveDecision, cancelled: boolean): ErrorFields {
  const rule = `chaperone rule ${decision.rule} (policy ${decision.policy})`;
  const id = outcome.state === 'unavailable' ? undefined : outcome.approval?.id;
  const detail = id === undefined ? rule : `${rule}, approval ${id}`;
  const error = (code: string, message: string): ErrorFields => ({ S: 'ERROR', V: 'ERROR', C: code, M: message, D: detail });
  switch (outcome.state) {
    case 'denied': {
      const a = outcome.approval;
      const by = a.decidedBy ?? 'an approver';
      return error('42501', `statement denied by ${by}: ${a.reason ?? 'no reason given'}`);
    }
    case 'expired':
      return error('57014', `statement not approved: approval timed out after ${decision.timeoutSeconds} s`);
    case 'withdrawn':
      return cancelled ? { ...CANCELED_FIELDS, D: detail } : error('42501', 'statement not approved: the approval request was withdrawn');
    case 'unavailable':
      return error('42501', `statement requires approval, which could not be obtained: ${outcome.error}`);
  }
}
