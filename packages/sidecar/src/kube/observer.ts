// Turns the Kubernetes proxy's reports into session records and metrics (protocol="kubernetes"),
// one session per agent TCP connection: kubectl and client libraries keep one connection alive
// for a run of requests, so a session is one tool invocation or one client's lifetime.
import type { Identity } from '@chaperone/core/records/types';
import type { Logger } from 'pino';
import type { SidecarMetrics } from '../metrics.js';
import type { Recorder } from '../recorder/recorder.js';
import type { SessionRecorder } from '../recorder/session-recorder.js';
import type { KubeObserver } from './proxy.js';

const STREAMS: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward']);

export interface KubeObserverOptions {
  connection: string;
  identity: Identity;
  recorder: Pick<Recorder, 'openSession'>;
  metrics: SidecarMetrics;
  logger?: Logger;
}

export function createKubeObserver(o: KubeObserverOptions): KubeObserver {
  const sessions = new Map<string, SessionRecorder>();
  const conn = o.metrics.connectionMetrics(o.connection, 'kubernetes');
  const duration = o.metrics.statementDurationHistogram(o.connection, 'kubernetes');
  const counters = {
    allow: o.metrics.statementCounter(o.connection, 'allow', 'kubernetes'),
    deny: o.metrics.statementCounter(o.connection, 'deny', 'kubernetes'),
    approve: o.metrics.statementCounter(o.connection, 'approve', 'kubernetes'),
  };
  return {
    sessionStarted({ id, client }) {
      conn.total.inc();
      conn.active.inc();
      sessions.set(id, o.recorder.openSession({ type: 'session.start', protocol: 'kubernetes', connection: o.connection, identity: o.identity, client }, id));
      o.logger?.info({ session: id, protocol: 'kubernetes', connection: o.connection, ...client }, 'session started');
    },
    request(session, event) {
      counters[event.decision.action].inc();
      o.metrics.kubernetesRequest(o.connection, event.decision.action, event.verb);
      if (event.subresource !== undefined && STREAMS.has(event.subresource)) o.metrics.kubernetesStream(o.connection, event.decision.action, event.subresource as 'exec');
      if (event.decision.action !== 'allow') {
        o.metrics.ruleDecision(o.connection, event.decision.action, event.decision.rule, 'kubernetes');
        // Ids, verb, resource and rule; never the path's query or a body (an exec's command is in the records).
        o.logger?.info({ session, connection: o.connection, decision: event.decision.action, policy: event.decision.policy, rule: event.decision.rule, verb: event.verb, resource: event.resource, subresource: event.subresource, namespace: event.namespace }, event.decision.action === 'deny' ? 'request denied' : 'request held for approval');
      }
      // Watches, `logs -f` and upgraded streams (exec, attach, port-forward: 101) last as long as the agent wants: only bounded requests say something about latency.
      if (event.decision.action !== 'deny' && event.verb !== 'watch' && event.subresource !== 'log' && event.status !== 101) duration.observe(event.durationMs / 1000);
      const s = sessions.get(session);
      if (!s) {
        o.logger?.warn({ session, connection: o.connection }, 'Kubernetes request for an unknown session; not recorded');
        return;
      }
      s.record(event);
    },
    record(session, event) {
      sessions.get(session)?.record(event);
    },
    command(session, decision) {
      // A line typed in an exec or attach shell, decided by the shell policy (the stream itself is counted as a request).
      if (decision.action === 'allow') return;
      o.metrics.ruleDecision(o.connection, decision.action, decision.rule, 'kubernetes');
      o.logger?.info({ session, connection: o.connection, decision: decision.action, policy: decision.policy, rule: decision.rule }, decision.action === 'deny' ? 'shell line denied' : 'shell line held for approval');
    },
    approval(session, event) {
      if (event.state !== 'pending') o.metrics.approvalWaited(o.connection, event.state, (event.waitedMs ?? 0) / 1000, 'kubernetes');
      sessions.get(session)?.record(event);
    },
    sessionEnded({ session, reason, requests, durationMs }) {
      conn.active.dec();
      const s = sessions.get(session);
      if (!s) return;
      sessions.delete(session);
      s.end({ type: 'session.end', reason, statements: requests, durationMs });
      o.logger?.info({ session, connection: o.connection, reason, requests, durationMs: Math.round(durationMs) }, 'session ended');
    },
  };
}
