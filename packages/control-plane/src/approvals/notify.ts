// Tells approvers of a new request: a Slack-compatible incoming-webhook POST (`text` plus
// `blocks`, with a link to the request). Delivery never blocks the request; failures are logged
// and counted.
import type { Approval, HeldOperation } from '@chaperone/core/api';

export interface NotifierOptions {
  webhookUrl: string;
  /** result: ok | error */
  count: (result: 'ok' | 'error') => void;
  onFailure: (err: unknown, approval: Approval) => void;
  timeoutMs?: number;
}

/** Longest operation text quoted in a message (Slack caps a section's text at 3000 characters). */
const MAX_QUOTED = 1500;
/** C0/C1 controls but tab and newline, DEL, and the Unicode bidi marks, embeddings, overrides and isolates. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * The operation as quoted in the channel. Bind parameters are not quoted: a chat channel is wider
 * than a rule's approvers and keeps messages for ever; they see the values on the approval itself.
 */
export function describeOperation(op: HeldOperation): string {
  switch (op.kind) {
    case 'sql': return op.params.length > 0 ? `${op.text}  -- ${op.params.length} parameter(s), shown on the approval` : op.text;
    case 'command': return op.command;
    case 'kubernetes': return `${op.verb} ${op.path}`;
  }
}

/** The webhook body: a one-line `text` (notifications, fallbacks) and blocks for the message. */
export function slackPayload(a: Approval): { text: string; blocks: Record<string, unknown>[] } {
  const who = `${a.identity.namespace}/${a.identity.serviceAccount}`;
  // Bidi overrides and control characters would let the agent's text display as something else.
  let quoted = describeOperation(a.operation).replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (quoted.length > MAX_QUOTED) quoted = `${quoted.slice(0, MAX_QUOTED)}…`;
  // Three backticks inside would end the code block early.
  quoted = quoted.replaceAll('```', '`\u200b``');
  const link = a.url ? ` <${a.url}|${a.id}>` : ` ${a.id}`;
  const text = `Approval needed:${link} — ${who} on ${a.connection} (${a.protocol}): ${a.message || a.rule.rule}`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*Approval needed* for *${who}* on *${a.connection}* (${a.protocol})\n${a.message}` } },
      { type: 'section', text: { type: 'mrkdwn', text: `\`\`\`${quoted}\`\`\`` } },
      {
        type: 'context',
        elements: [{
          type: 'mrkdwn',
          text: `rule ${a.rule.rule} · approvers ${a.approvers.join(', ') || '(admin only)'} · expires ${a.expiresAt} · ${a.url ? `<${a.url}|${a.id}>` : a.id}`,
        }],
      },
    ],
  };
}

export class ApprovalNotifier {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly opts: NotifierOptions) {}

  /** Starts the delivery and returns at once. */
  notify(approval: Approval): void {
    const p = this.deliver(approval).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Waits for deliveries under way (on shutdown, and in tests). */
  async settle(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private async deliver(approval: Approval): Promise<void> {
    try {
      const res = await fetch(this.opts.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(slackPayload(approval)),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
      // Drain the answer so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}`);
      this.opts.count('ok');
    } catch (err) {
      this.opts.count('error');
      this.opts.onFailure(err, approval);
    }
  }
}
