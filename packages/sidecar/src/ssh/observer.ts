// Turns what an SSH session does into session records and metrics: one SessionRecorder per
// agent connection, commands counted by decision, bytes by direction, sessions open and total.
import type { Decision } from '@chaperone/core/decision';
import type { Identity, RecordEvent } from '@chaperone/core/records/types';
import type { Logger } from 'pino';
import type { BoundCounter, SidecarMetrics } from '../metrics.js';
import type { Recorder } from '../recorder/recorder.js';

/** One agent connection's log; every method is synchronous and never throws. */
export interface SshSessionLog {
  readonly id: string;
  record(event: RecordEvent): void;
  /** Counts a command (exec or a line typed at a prompt) under its decision, and by rule when not allowed. */
  command(decision: Decision): void;
  /** Bytes passed: `in` agent → target, `out` target → agent. */
  bytes(direction: 'in' | 'out', n: number): void;
  end(reason: string, durationMs: number): void;
}

/** The rule name of refusals that no policy rule made (x11, unknown subsystems, unsupported channels). */
export const NOT_A_RULE = 'not-supported';

export interface SshObserver {
  sessionStarted(client: Record<string, string>): SshSessionLog;
}

export interface SshObserverOptions {
  connection: string;
  identity: Identity;
  recorder: Pick<Recorder, 'openSession'>;
  metrics: SidecarMetrics;
}

export function createSshObserver(o: SshObserverOptions): SshObserver {
  const conn = o.metrics.connectionMetrics(o.connection, 'ssh');
  const counters: Record<Decision['action'], BoundCounter> = {
    allow: o.metrics.statementCounter(o.connection, 'allow', 'ssh'),
    deny: o.metrics.statementCounter(o.connection, 'deny', 'ssh'),
    approve: o.metrics.statementCounter(o.connection, 'approve', 'ssh'),
  };
  const bytes = { in: o.metrics.bytesCounter(o.connection, 'in', 'ssh'), out: o.metrics.bytesCounter(o.connection, 'out', 'ssh') };
  return {
    sessionStarted(client) {
      conn.total.inc();
      conn.active.inc();
      const session = o.recorder.openSession({ type: 'session.start', protocol: 'ssh', connection: o.connection, identity: o.identity, client });
      let commands = 0;
      let ended = false;
      return {
        id: session.id,
        record(event) {
          if (ended) return;
          session.record(event);
          // Held operations' waits and refused channels and files, as the PostgreSQL and Kubernetes observers count them.
          if (event.type === 'approval' && event.state !== 'pending') o.metrics.approvalWaited(o.connection, event.state, (event.waitedMs ?? 0) / 1000, 'ssh');
          if ((event.type === 'channel' || event.type === 'file') && event.decision.action !== 'allow' && event.decision.rule !== NOT_A_RULE) {
            o.metrics.ruleDecision(o.connection, event.decision.action, event.decision.rule, 'ssh');
          }
        },
        command(decision) {
          commands++;
          counters[decision.action].inc();
          if (decision.action !== 'allow') o.metrics.ruleDecision(o.connection, decision.action, decision.rule, 'ssh');
        },
        bytes(direction, n) { bytes[direction].inc(n); },
        end(reason, durationMs) {
          if (ended) return;
          ended = true;
          conn.active.dec();
          session.end({ type: 'session.end', reason, statements: commands, durationMs });
        },
      };
    },
  };
}

/**
 * The session's log lines, with the session id its records carry: start, each refused or held
 * command by policy and rule, and the end. Never the command's text: it can hold secrets, and
 * the records have it.
 */
export function loggedSession(log: SshSessionLog, logger: Logger, connection: string, client: Record<string, string>): SshSessionLog {
  logger.info({ session: log.id, protocol: 'ssh', connection, ...client }, 'session started');
  let commands = 0;
  let denied = 0;
  let ended = false;
  return {
    id: log.id,
    record: (event) => log.record(event),
    command(decision) {
      commands++;
      if (decision.action === 'deny') denied++;
      if (decision.action !== 'allow') {
        logger.info({ session: log.id, connection, decision: decision.action, policy: decision.policy, rule: decision.rule }, decision.action === 'deny' ? 'command denied' : 'command held for approval');
      }
      log.command(decision);
    },
    bytes: (direction, n) => log.bytes(direction, n),
    end(reason, durationMs) {
      log.end(reason, durationMs);
      if (ended) return;
      ended = true;
      logger.info({ session: log.id, connection, reason, commands, denied, durationMs: Math.round(durationMs) }, 'session ended');
    },
  };
}

/** The decision as records carry it. */
export function recordedDecision(d: Decision): { action: Decision['action']; policy: string; rule: string; message?: string } {
  return d.action === 'allow' ? { action: d.action, policy: d.policy, rule: d.rule } : { action: d.action, policy: d.policy, rule: d.rule, message: d.message };
}
