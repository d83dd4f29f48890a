// What a reader of /v1/approvals sees of a held operation: all of it when they may decide it;
// otherwise its kind and target without values (statement text, Bind parameters, command line,
// request body), which may hold passwords, personal data or a Secret's contents.
import type { Approval, HeldOperation } from '@chaperone/core/api';
import { checkApprover, type Approver } from './approvers.js';

export const WITHHELD = '[withheld: only this approval\'s approvers see it]';

/**
 * `approval` as `viewer` may see it. `viewer` undefined is an unauthenticated reader (no approver
 * authentication configured): values are withheld from them too.
 */
export function approvalFor(approval: Approval, viewer: Approver | undefined): Approval {
  if (viewer !== undefined && checkApprover(approval, viewer).ok) return approval;
  return { ...approval, operation: withheldOperation(approval.operation) };
}

function withheldOperation(op: HeldOperation): HeldOperation {
  switch (op.kind) {
    case 'sql': return { kind: 'sql', text: WITHHELD, params: [] };
    case 'command': return { kind: 'command', command: WITHHELD };
    case 'kubernetes': {
      const { body, ...rest } = op;
      return body === undefined ? rest : { ...rest, body: WITHHELD };
    }
  }
}
