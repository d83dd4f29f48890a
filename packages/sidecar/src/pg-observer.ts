// Turns the PostgreSQL proxy's observer callbacks into session records and metrics. Called on
// the proxy's hot path: every callback is synchronous, bounded and allocation-light.
import type { Identity, StatementEvent } from '@chaperone/core/records/types';
import type { StatementKind } from '@chaperone/core/sql/kinds';
import type { Logger } from 'pino';
import type { SidecarMetrics } from './metrics.js';
import type { PgObserver } from './pg/proxy.js';
import type { Recorder } from './recorder/recorder.js';
import type { SessionRecorder } from './recorder/session-recorder.js';

export interface PgObserverOptions {
  connection: string;
  identity: Identity;
  recorder: Pick<Recorder, 'openSession'>;
  metrics: SidecarMetrics;
  /** Literals → $n, for statements that touch what a mask rule covers (sql/redact). */
  redact: (text: string) => string;
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

  return {
    sessionStarted({ id, client }) {
      conn.total.inc();
      conn.active.inc();
      sessions.set(id, o.recorder.openSession({ type: 'session.start', protocol: 'postgres', connection: o.connection, identity: o.identity, client }, id));
    },

    statement(info) {
      const { decision, redactLiterals } = info.verdict;
      counters[decision.action].inc();
      // A denied statement never reached the server: its zero duration says nothing about latency.
      if (decision.action !== 'deny') duration.observe(info.durationMs / 1000);
      const session = sessions.get(info.session);
      if (!session) {
        o.logger?.warn({ session: info.session, connection: o.connection }, 'statement for an unknown session; not recorded');
        return;
      }
      const event: StatementEvent = {
        type: 'statement',
        text: redactLiterals ? o.redact(info.text) : info.text,
        flow: info.flow,
        kinds: info.verdict.kinds as StatementKind[],
        tables: info.verdict.tables,
        decision: decision.action === 'allow'
          ? { action: decision.action, policy: decision.policy, rule: decision.rule }
          : { action: decision.action, policy: decision.policy, rule: decision.rule, message: decision.message },
        durationMs: info.durationMs,
        rows: info.rows,
        tag: info.tag,
        error: info.error,
      };
      session.record(event);
    },

    sessionEnded({ session, reason, statements, durationMs }) {
      conn.active.dec();
      const s = sessions.get(session);
      if (!s) return;
      sessions.delete(session);
      s.end({ type: 'session.end', reason, statements, durationMs });
    },
  };
}
