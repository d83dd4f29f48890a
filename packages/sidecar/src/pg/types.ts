// Public types of the PostgreSQL proxy: options, the enforcement verdict and the observer hooks.
import type { Logger } from 'pino';
import type { ApprovalState } from '@chaperone/core/api';
import type { Decision, RuleRef } from '@chaperone/core/decision';
import type { ApprovalGate } from '../approvals/gate.js';
import type { UpstreamCredential, UpstreamTarget } from './auth.js';
import type { MaskPolicy } from './mask-plan.js';
import type { LineageSource } from './mask-lineage.js';
import type { MaskCounters, Masking } from './mask-session.js';

export interface SqlVerdict { decision: Decision; kinds: string[]; tables: string[]; redactLiterals: boolean }

/** Recording and metrics hooks; called synchronously on the hot path, so they must not block. */
export interface PgObserver {
  sessionStarted(info: { id: string; client: Record<string, string> }): void;
  statement(info: {
    session: string; text: string; flow: 'simple' | 'extended'; verdict: SqlVerdict;
    durationMs: number; rows?: number; tag?: string; error?: { code: string; message: string };
    /** The approval the statement was held for (approve rules). */
    approval?: string;
    /** The statement never reached the server (denied, or held and not approved). */
    refused?: boolean;
    /** Values masked in the statement's results, by mask rule. */
    masked?: Record<string, number>;
  }): void;
  /**
   * A held statement's approval: `pending` once requested, then how the wait ended
   * (`unavailable`: no decision could be had; `id` is absent when the request was never made).
   */
  approval?(info: {
    session: string; id?: string; state: ApprovalState | 'unavailable'; rule: RuleRef;
    by?: string; reason?: string; waitedMs?: number;
  }): void;
  sessionEnded(info: { session: string; reason: string; statements: number; durationMs: number }): void;
}

export interface PgProxyOptions {
  listen: { host: string; port: number };
  connectionName: string;
  target: UpstreamTarget;
  credential: UpstreamCredential;
  /**
   * Classifies and decides one message's SQL text (a simple Query's whole text, which may hold
   * several statements, or one Parse's text). Synchronous: it runs for every statement.
   */
  enforce(text: string): SqlVerdict;
  observer?: PgObserver;
  /** Holds statements of approve rules; without it they are refused (fail closed). */
  approvals?: ApprovalGate;
  /** The connection's mask rules; absent (or undefined) when it has none: results pass untouched. */
  masking?: MaskingOptions;
  logger?: Logger;
}

/** Masking of results (mask-session.ts): the rules, the lineage analyser, the metric tallies. */
export interface MaskingOptions {
  policy: MaskPolicy;
  lineage: LineageSource;
  counters?: MaskCounters;
  /** How long catalog answers are used when no DDL went through the proxy (catalog.ts CATALOG_TTL_MS). */
  catalogTtlMs?: number;
}

/** What a session reads from its proxy on every statement, so `update()` reaches live sessions. */
export interface ProxySettings {
  target: UpstreamTarget;
  credential: UpstreamCredential;
  enforce: (text: string) => SqlVerdict;
  /** Bumped on every update; prepared statements decided under an older generation are decided again at Bind. */
  generation: number;
  /** Present when the connection has mask rules (sessions started without it are ended when it appears). */
  masking?: Masking;
}
