// `chaperone approvals list|approve|deny|watch`: just-in-time approvals for people, through the
// control plane's /v1/approvals with an OIDC ID token (--token / CHAPERONE_TOKEN) or the dev
// stack's admin token.
import type { Approval, ApprovalWatchResponse } from '@chaperone/core/api';
import { ChaperoneError } from '@chaperone/core/errors';
import { apiGet, apiPost, resolveTarget, type OperatorTarget } from '../operator-client.js';
import { printable } from '../terminal-text.js';
import { parse, type Command } from './command.js';

const COMMON = '[--control-plane URL] [--token TOKEN]';
const LIST_USAGE = `chaperone approvals list [--state pending|approved|denied|expired|withdrawn] [--limit N] [--json] ${COMMON}`;
const APPROVE_USAGE = `chaperone approvals approve ID [--reason TEXT] [--json] ${COMMON}`;
const DENY_USAGE = `chaperone approvals deny ID --reason TEXT [--json] ${COMMON}`;
const WATCH_USAGE = `chaperone approvals watch [--json] ${COMMON}`;
const STATES = ['pending', 'approved', 'denied', 'expired', 'withdrawn'];

const commonOptions = { 'control-plane': { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' } } as const;

function target(values: { 'control-plane'?: string; token?: string }): OperatorTarget {
  const t = resolveTarget(values['control-plane']);
  return values.token ? { ...t, token: values.token } : t;
}

export const approvalsList: Command = {
  usage: LIST_USAGE,
  async run(args) {
    const { values } = parse(args, { ...commonOptions, state: { type: 'string' }, limit: { type: 'string' } }, LIST_USAGE);
    if (values.state !== undefined && !STATES.includes(values.state)) throw new ChaperoneError('CLI_ERR_USAGE', `--state must be one of ${STATES.join(', ')}\nusage: ${LIST_USAGE}`);
    const q = new URLSearchParams();
    if (values.state) q.set('state', values.state);
    if (values.limit) q.set('limit', values.limit);
    const approvals = await apiGet<Approval[]>(target(values), `/v1/approvals${q.size ? `?${q}` : ''}`);
    process.stdout.write(values.json ? `${JSON.stringify(approvals, null, 2)}\n` : formatApprovalTable(approvals));
    return 0;
  },
};

function decisionCommand(decision: 'approve' | 'deny', usage: string): Command {
  return {
    usage,
    async run(args) {
      const { values, positionals } = parse(args, { ...commonOptions, reason: { type: 'string' } }, usage, true);
      const id = positionals[0];
      if (!id || positionals.length > 1) throw new ChaperoneError('CLI_ERR_USAGE', `give one approval ID\nusage: ${usage}`);
      if (decision === 'deny' && !values.reason?.trim()) throw new ChaperoneError('CLI_ERR_USAGE', `a denial needs --reason: the agent is told it\nusage: ${usage}`);
      const approval = await apiPost<Approval>(target(values), `/v1/approvals/${encodeURIComponent(id)}/decision`, {
        decision, ...(values.reason ? { reason: values.reason } : {}),
      });
      process.stdout.write(values.json ? `${JSON.stringify(approval, null, 2)}\n` : `${approval.id} ${approval.state} by ${approval.decidedBy ?? '?'}${approval.reason ? `: ${approval.reason}` : ''}\n`);
      return 0;
    },
  };
}

export const approvalsApprove = decisionCommand('approve', APPROVE_USAGE);
export const approvalsDeny = decisionCommand('deny', DENY_USAGE);

/** Long-polls the watch route; prints the pending requests, then each new one, until a signal. */
export const approvalsWatch: Command = {
  usage: WATCH_USAGE,
  async run(args) {
    const { values } = parse(args, commonOptions, WATCH_USAGE);
    const t = target(values);
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const print = (a: Approval): void => {
      process.stdout.write(values.json ? `${JSON.stringify(a)}\n` : `${formatApprovalLine(a)}\n`);
    };
    try {
      let page = await apiGet<ApprovalWatchResponse>(t, '/v1/approvals/watch', stop.signal);
      for (;;) {
        page.approvals.forEach(print);
        page = await apiGet<ApprovalWatchResponse>(t, `/v1/approvals/watch?after=${encodeURIComponent(page.cursor)}&timeoutSeconds=30`, stop.signal);
      }
    } catch (err) {
      if (stop.signal.aborted) return 0;
      throw err;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

/** One line: when, id, who, where, what, who may approve, until when. */
export function formatApprovalLine(a: Approval): string {
  return [a.requestedAt, a.id, a.state, `${a.identity.namespace}/${a.identity.serviceAccount}`, a.connection, oneLine(operationText(a)),
    `approvers=${a.approvers.join(',') || 'admin'}`, `expires=${a.expiresAt}`].join('  ');
}

export function formatApprovalTable(approvals: Approval[]): string {
  if (approvals.length === 0) return 'no approvals\n';
  const rows = approvals.map((a) => [a.id, a.state, `${a.identity.namespace}/${a.identity.serviceAccount}`, a.connection, oneLine(operationText(a), 60),
    a.approvers.join(',') || 'admin', a.requestedAt, a.decidedBy ? `${a.decidedBy}${a.reason ? `: ${oneLine(a.reason, 40)}` : ''}` : '']);
  const head = ['ID', 'STATE', 'IDENTITY', 'CONNECTION', 'OPERATION', 'APPROVERS', 'REQUESTED', 'DECIDED BY'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

function operationText(a: Approval): string {
  const op = a.operation;
  switch (op.kind) {
    case 'sql': return op.params.length > 0 ? `${op.text} ${JSON.stringify(op.params)}` : op.text;
    case 'command': return op.command;
    case 'kubernetes': return `${op.verb} ${op.path}`;
  }
}

function oneLine(text: string, max = 120): string {
  const flat = printable(text.replace(/\s+/g, ' ').trim());
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
