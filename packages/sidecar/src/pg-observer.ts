// Turns the PostgreSQL proxy's observer callbacks into session records and metrics. Called on
// the proxy's hot path: every callback is synchronous, bounded and allocation-light.
import type { Decision } from '@chaperone/core/decision';
import { RedactionCache } from '@chaperone/core/sql/redact';
import type { ApprovalEvent, Identity, StatementEvent } from '@chaperone/core/records/types';
import type { StatementKind } from '@chaperone/core/sql/kinds';
import type { Logger } from 'pino';
import type { SidecarMetrics } from './metrics.js';
import type { PgObserver, SqlVerdict } from './pg/proxy.js';
import { verdictJson } from './recorder/record-line.js';
import type { VerdictJson } from './recorder/record-line.js';
import type { Recorder } from './recorder/recorder.js';
import type { SessionRecorder } from './recorder/session-recorder.js';

export interface PgObserverOptions {
  connection: string;
  identity: Identity;
  recorder: Pick<Recorder, 'openSession'>;
  metrics: SidecarMetrics;
  /**
   * Literals → $n, for statements that touch what a mask rule covers (sql/redact's
   * redactLiterals); given the observer's RedactionCache, per-shape work is done once.
   */
  redact: (text: string, cache?: RedactionCache) => string;
  logger?: Logger;
}

export function createPgObserver(o: PgObserverOptions): PgObserver {
  const sessions = new Map<string, SessionRecorder>();
  const conn = o.metrics.connectionMetrics(o.connection);
  const duration = o.metrics.statementDurationHistogram(o.connection);
  const counters = {
    allow: o.metrics.statementCounter(o.connection, 'allow'),
    deny: o.metrics.statementCounter(o.connection, 'deny'),
    approve: o.metrics.statementCounter(o.connection, 'approve'),
  };

  // Verdicts are cached per statement shape and frozen (sql-enforcement.ts): their JSON pieces
  // are encoded once. An unfrozen verdict (tests, other enforcers) is encoded every time.
  const verdictJsons = new WeakMap<SqlVerdict, VerdictJson>();
  const redactions = new RedactionCache();
  const jsonOf = (v: SqlVerdict): VerdictJson | null => {
    let json = verdictJsons.get(v);
    if (json !== undefined) return json;
    json = verdictJson(recordedDecision(v.decision), v.kinds, v.tables) ?? undefined;
    if (json !== undefined && Object.isFrozen(v)) verdictJsons.set(v, json);
    return json ?? null;
  };

  return {
    sessionStarted({ id, client }) {
      conn.total.inc();
      conn.active.inc();
      sessions.set(id, o.recorder.openSession({ type: 'session.start', protocol: 'postgres', connection: o.connection, identity: o.identity, client }, id));
      // The session id is the records' session id; no statement text or values ever reach the log.
      o.logger?.info({ session: id, protocol: 'postgres', connection: o.connection }, 'session started');
    },

    statement(info) {
      const verdict = info.verdict;
      const decision = verdict.decision;
      counters[decision.action].inc();
      if (decision.action !== 'allow') {
        o.metrics.ruleDecision(o.connection, decision.action, decision.rule);
        if (decision.action === 'deny') o.logger?.info({ session: info.session, connection: o.connection, policy: decision.policy, rule: decision.rule, kinds: verdict.kinds }, 'statement denied');
      }
      // A denied statement (or a held one that was not approved) never reached the server: its
      // zero duration says nothing about latency.
      if (decision.action !== 'deny' && info.refused !== true) duration.observe(info.durationMs / 1000);
      const session = sessions.get(info.session);
      if (!session) {
        o.logger?.warn({ session: info.session, connection: o.connection }, 'statement for an unknown session; not recorded');
        return;
      }
      const text = verdict.redactLiterals ? o.redact(info.text, redactions) : info.text;
      const json = info.approval === undefined && info.masked === undefined ? jsonOf(verdict) : null;
      if (json !== null) {
        // The usual case: straight to the record's bytes, no event object.
        session.recordStatement(json, { text, flow: info.flow, durationMs: info.durationMs, rows: info.rows, tag: info.tag, error: info.error });
        return;
      }
      const event: StatementEvent = {
        type: 'statement', text, flow: info.flow, kinds: verdict.kinds as StatementKind[], tables: verdict.tables, decision: recordedDecision(decision),
        durationMs: info.durationMs, rows: info.rows, tag: info.tag, error: info.error,
      };
      if (info.approval !== undefined) event.approval = info.approval;
      if (info.masked !== undefined) event.masked = info.masked;
      session.record(event);
    },

    approval(info) {
      if (info.state !== 'pending') o.metrics.approvalWaited(o.connection, info.state, (info.waitedMs ?? 0) / 1000);
      // `unavailable` is no state of an approval: the refused statement's record says why.
      if (info.id === undefined || info.state === 'unavailable') return;
      const session = sessions.get(info.session);
      if (!session) return;
      const event: ApprovalEvent = { type: 'approval', id: info.id, state: info.state, rule: { policy: info.rule.policy, rule: info.rule.rule } };
      if (info.by !== undefined) event.by = info.by;
      if (info.reason !== undefined) event.reason = info.reason;
      if (info.waitedMs !== undefined && info.state !== 'pending') event.waitedMs = info.waitedMs;
      session.record(event);
    },

    sessionEnded({ session, reason, statements, durationMs }) {
      conn.active.dec();
      o.logger?.info({ session, connection: o.connection, reason, statements, durationMs }, 'session ended');
      const s = sessions.get(session);
      if (!s) return;
      sessions.delete(session);
      s.end({ type: 'session.end', reason, statements, durationMs });
    },
  };
}

/** What a record keeps of a decision: the rule, and the message the agent saw when refused. */
function recordedDecision(d: Decision): StatementEvent['decision'] {
  return d.action === 'allow'
    ? { action: d.action, policy: d.policy, rule: d.rule }
    : { action: d.action, policy: d.policy, rule: d.rule, message: d.message };
}
