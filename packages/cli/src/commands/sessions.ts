// `chaperone sessions list|show`: what ran, as the control plane stored it.
import type { SessionDetail, SessionSummary } from '@chaperone/core/api';
import type { SessionRecord, StatementEvent } from '@chaperone/core/records/types';
import { apiGet, resolveTarget } from '../operator-client.js';
import { printable } from '../terminal-text.js';
import { parse, type Command } from './command.js';

const LIST_USAGE = 'chaperone sessions list [--json] [--limit N] [--connection NAME] [--control-plane URL]';
const SHOW_USAGE = 'chaperone sessions show ID [--json] [--control-plane URL]';

export const sessionsList: Command = {
  usage: LIST_USAGE,
  async run(args) {
    const { values } = parse(args, { json: { type: 'boolean' }, limit: { type: 'string' }, connection: { type: 'string' }, 'control-plane': { type: 'string' } }, LIST_USAGE);
    const q = new URLSearchParams();
    if (values.limit) q.set('limit', values.limit);
    if (values.connection) q.set('connection', values.connection);
    const sessions = await apiGet<SessionSummary[]>(resolveTarget(values['control-plane']), `/v1/sessions${q.size ? `?${q}` : ''}`);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(sessions, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(formatSessionTable(sessions));
    return 0;
  },
};

export const sessionsShow: Command = {
  usage: SHOW_USAGE,
  async run(args) {
    const { values, positionals } = parse(args, { json: { type: 'boolean' }, 'control-plane': { type: 'string' } }, SHOW_USAGE, true);
    const id = positionals[0];
    if (!id || positionals.length > 1) {
      process.stderr.write(`usage: ${SHOW_USAGE}\n`);
      return 2;
    }
    const detail = await apiGet<SessionDetail>(resolveTarget(values['control-plane']), `/v1/sessions/${encodeURIComponent(id)}`);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(detail, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(formatSessionDetail(detail));
    return 0;
  },
};

export function formatSessionTable(sessions: SessionSummary[]): string {
  if (sessions.length === 0) return 'no sessions recorded\n';
  const rows = sessions.map((s) => [
    s.id, s.protocol, s.connection, `${s.identity.namespace}/${s.identity.serviceAccount}`, s.startedAt,
    s.endedAt ? 'ended' : 'open', String(s.statements), String(s.denied), s.chainOk ? 'ok' : `BROKEN`,
  ]);
  return table(['SESSION', 'PROTOCOL', 'CONNECTION', 'IDENTITY', 'STARTED', 'STATE', 'STATEMENTS', 'DENIED', 'CHAIN'], rows);
}

export function formatSessionDetail({ session, records }: SessionDetail): string {
  const lines = [
    `session     ${session.id}`,
    `identity    ${session.identity.namespace}/${session.identity.serviceAccount}`,
    `connection  ${session.connection} (${session.protocol})`,
    `started     ${session.startedAt}`,
    `ended       ${session.endedAt ?? '(open)'}`,
    `chain       ${session.chainOk ? `ok, ${session.records} records` : `BROKEN: ${session.chainError}`}`,
    '',
  ];
  for (const r of records) lines.push(formatRecord(r));
  return `${lines.join('\n')}\n`;
}

/** One record as text; what the agent or the target wrote is shown with its control characters escaped. */
export function formatRecord(r: SessionRecord): string {
  return recordText(r).split('\n').map(printable).join('\n');
}

function recordText(r: SessionRecord): string {
  const head = `#${String(r.seq).padStart(4)} ${r.time}`;
  const e = r.event;
  switch (e.type) {
    case 'session.start':
      return `${head} start      ${e.identity.namespace}/${e.identity.serviceAccount} → ${e.connection} ${Object.entries(e.client).map(([k, v]) => `${k}=${v}`).join(' ')}`;
    case 'statement':
      return `${head} ${e.decision.action.padEnd(10)} ${oneLine(e.text)}\n${' '.repeat(head.length + 12)}→ ${statementOutcome(e)}${maskedCounts(e.masked)}`;
    case 'session.end':
      return `${head} end        ${e.reason}, ${e.statements} statements, ${e.durationMs.toFixed(0)} ms`;
    case 'approval':
      return `${head} approval   ${e.id} ${e.state}${e.by ? ` by ${e.by}` : ''}${e.reason ? `: ${e.reason}` : ''}`;
    case 'command':
      return `${head} ${e.decision.action.padEnd(10)} $ ${oneLine(e.command)}${e.exitStatus !== undefined ? ` → exit ${e.exitStatus}` : e.signal ? ` → signal ${e.signal}` : ''}`;
    case 'terminal.start':
      return `${head} terminal   channel ${e.channel} ${e.width}x${e.height}${e.command ? ` running ${oneLine(e.command)}` : ''}`;
    case 'terminal':
      return `${head} terminal   channel ${e.channel}, ${e.events.length} events`;
    case 'file':
      return `${head} ${e.decision.action.padEnd(10)} ${e.protocol} ${e.direction} ${e.path} ${e.bytes} bytes sha256 ${e.sha256.slice(0, 12)}`;
    case 'channel':
      return `${head} ${e.decision.action.padEnd(10)} ${e.kind} ${e.detail}`;
    case 'kubernetes.request':
      return `${head} ${e.decision.action.padEnd(10)} ${e.verb} ${e.path} → ${e.status} in ${e.durationMs.toFixed(1)} ms`;
  }
}

function statementOutcome(e: StatementEvent): string {
  const ran = e.error ? `error ${e.error.code}: ${e.error.message}` : `${e.tag ?? 'ok'}${e.durationMs !== undefined ? ` in ${e.durationMs.toFixed(2)} ms` : ''}`;
  switch (e.decision.action) {
    case 'allow': return ran;
    case 'deny': return `DENIED by ${e.decision.rule}${e.decision.message ? `: ${e.decision.message}` : ''}`;
    case 'approve':
      // Held: its approval records say who decided; this says what the agent then got.
      return e.approval
        ? `held by ${e.decision.rule} for approval ${e.approval}, then ${ran}`
        : `REFUSED, needs approval, by ${e.decision.rule}${e.error ? `: ${e.error.message}` : ''}`;
  }
}

/** How many values each mask rule replaced in the statement's results (never the values). */
function maskedCounts(masked: Record<string, number> | undefined): string {
  const entries = Object.entries(masked ?? {});
  return entries.length === 0 ? '' : `; masked ${entries.map(([rule, n]) => `${rule}=${n}`).join(' ')}`;
}

function oneLine(text: string): string {
  const flat = printable(text.replace(/\s+/g, ' ').trim());
  return flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return `${[fmt(header), ...rows.map(fmt)].join('\n')}\n`;
}
