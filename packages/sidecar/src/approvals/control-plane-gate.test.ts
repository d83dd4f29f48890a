// The gate's loop on its own: 401 → new grant, transient failures retried, refusals fail closed,
// withdraw on abort, give up after the rule's timeout. The client here is scripted, not the real
// control plane, because these failures must happen on demand and in order; the real control plane
// is exercised through the proxy in test/pg/approval*.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Approval, ApprovalCreateRequest } from '@chaperone/core/api';
import { ChaperoneError } from '@chaperone/core/errors';
import { CP_ERR_REJECTED, CP_ERR_UNAUTHORIZED, CP_ERR_UNREACHABLE } from '../control-plane-client.js';
import { ControlPlaneApprovalGate } from './control-plane-gate.js';
import type { ApprovalClient } from './control-plane-gate.js';

const req: ApprovalCreateRequest = {
  session: 's', protocol: 'postgres', connection: 'c', operation: { kind: 'sql', text: 'truncate t', params: [] },
  rule: { policy: 'p', rule: 'p#1' }, approvers: ['group:dba'], timeoutSeconds: 1, message: 'm',
};

function approval(state: Approval['state']): Approval {
  return {
    id: 'a1', state, session: 's', protocol: 'postgres', connection: 'c', identity: { namespace: 'n', serviceAccount: 'sa' },
    operation: req.operation, fingerprint: 'f', rule: req.rule, approvers: req.approvers, message: 'm',
    requestedAt: '', expiresAt: '', decidedAt: null, decidedBy: null, reason: null, history: [],
  };
}

type Step = Approval | ChaperoneError;

/** Answers create and each wait from the scripts, in order; records the calls. */
function scripted(create: Step[], waits: Step[]): ApprovalClient & { calls: string[] } {
  const calls: string[] = [];
  const next = (list: Step[]): Promise<Approval> => {
    const s = list.shift();
    if (s === undefined) return Promise.resolve(approval('pending'));
    return s instanceof ChaperoneError ? Promise.reject(s) : Promise.resolve(s);
  };
  return {
    calls,
    createApproval: (grant) => { calls.push(`create ${grant}`); return next(create); },
    waitApproval: (grant, id, seconds) => { calls.push(`wait ${grant} ${id} ${seconds}`); return next(waits); },
    withdrawApproval: (grant, id) => { calls.push(`withdraw ${grant} ${id}`); return Promise.resolve(approval('withdrawn')); },
  };
}

const err = (code: string) => new ChaperoneError(code, code);

describe('ControlPlaneApprovalGate', () => {
  it('creates, reports pending, waits until decided', async () => {
    const client = scripted([approval('pending')], [approval('pending'), approval('approved')]);
    const pending: string[] = [];
    const gate = new ControlPlaneApprovalGate({ client, grant: () => 'g', pollSeconds: 1 });
    const out = await gate.request(req, new AbortController().signal, (a) => pending.push(a.id));
    assert.equal(out.state, 'approved');
    assert.deepEqual(pending, ['a1']);
    assert.deepEqual(client.calls, ['create g', 'wait g a1 1', 'wait g a1 1']);
  });

  it('renews the grant once on a 401', async () => {
    let grant = 'old';
    const client = scripted([err(CP_ERR_UNAUTHORIZED), approval('pending')], [approval('denied')]);
    const gate = new ControlPlaneApprovalGate({ client, grant: () => grant, refreshGrant: () => { grant = 'new'; return Promise.resolve(); } });
    assert.equal((await gate.request(req, new AbortController().signal)).state, 'denied');
    assert.deepEqual(client.calls.slice(0, 2), ['create old', 'create new']);
  });

  it('fails closed when the request cannot be made or is refused', async () => {
    const down = new ControlPlaneApprovalGate({ client: scripted([err(CP_ERR_UNREACHABLE)], []), grant: () => 'g' });
    assert.equal((await down.request(req, new AbortController().signal)).state, 'unavailable');
    const gone = new ControlPlaneApprovalGate({ client: scripted([approval('pending')], [err(CP_ERR_REJECTED)]), grant: () => 'g' });
    assert.equal((await gone.request(req, new AbortController().signal)).state, 'unavailable');
  });

  it('retries a wait that failed in transit', async () => {
    const client = scripted([approval('pending')], [err(CP_ERR_UNREACHABLE), approval('approved')]);
    const gate = new ControlPlaneApprovalGate({ client, grant: () => 'g', pollSeconds: 1 });
    assert.equal((await gate.request(req, new AbortController().signal)).state, 'approved');
  });

  it('withdraws when aborted', async () => {
    const client = scripted([approval('pending')], []);
    const gate = new ControlPlaneApprovalGate({ client, grant: () => 'g', pollSeconds: 1 });
    const abort = new AbortController();
    const out = gate.request(req, abort.signal, () => abort.abort());
    assert.deepEqual((await out).state, 'withdrawn');
    assert.ok(client.calls.includes('withdraw g a1'));
  });

  it('gives up as expired (and withdraws) when no decision comes within the timeout and grace', async () => {
    const client = scripted([approval('pending')], []);
    const gate = new ControlPlaneApprovalGate({ client, grant: () => 'g', pollSeconds: 1, graceSeconds: 0 });
    const out = await gate.request({ ...req, timeoutSeconds: 0 }, new AbortController().signal);
    assert.equal(out.state, 'expired');
    assert.ok(client.calls.includes('withdraw g a1'));
  });
  it('an approved answer about another approval or another operation decides nothing (fails closed)', async () => {
    const otherId = { ...approval('approved'), id: 'a2' };
    const otherOp = { ...approval('approved'), operation: { kind: 'sql', text: 'truncate other', params: [] } } as Approval;
    const otherSession = { ...approval('approved'), session: 's2' };
    for (const answer of [otherId, otherOp, otherSession]) {
      const client = scripted([approval('pending')], [answer]);
      const gate = new ControlPlaneApprovalGate({ client, grant: () => 'g', pollSeconds: 1 });
      const out = await gate.request(req, new AbortController().signal);
      assert.equal(out.state, 'unavailable', JSON.stringify(answer));
      assert.match(out.state === 'unavailable' ? out.error : '', /another operation/);
      assert.deepEqual(client.calls, ['create g', 'wait g a1 1', 'withdraw g a1']);
    }
    // A create answered for another operation is refused before any wait.
    const client = scripted([{ ...otherOp, state: 'pending' }], []);
    const out = await new ControlPlaneApprovalGate({ client, grant: () => 'g' }).request(req, new AbortController().signal);
    assert.equal(out.state, 'unavailable');
    assert.deepEqual(client.calls, ['create g']);
  });
});
