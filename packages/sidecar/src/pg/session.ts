// One agent connection: a state machine owning the agent socket and its upstream socket. It frames
// the agent's messages, carries out policy decisions, and streams the server's bytes back while
// tracking just enough (ReadyForQuery, CommandComplete, errors) to order answers and record statements.
//
// How a denial keeps PostgreSQL's message order and transaction semantics: a refused message is
// replaced in the upstream stream by a *sentinel*: a Bind of a statement name that cannot exist
// ("chaperone_denied_<nonce>_<n>"). The server fails it in exactly the position of the denied
// message, skips the rest up to Sync, aborts the transaction (an explicit one goes to failed state
// 'E', so a later COMMIT rolls back) and reports the true transaction status; the proxy swaps that
// one ErrorResponse for the denial. A denied simple Query is replaced by sentinel + Sync, so the
// server's ReadyForQuery ends it as PostgreSQL's own would. So nothing of a denied statement
// reaches the server, and error position, pipelining and rollback behave as if PostgreSQL itself
// had refused the statement.
import { randomBytes, randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Decision } from '@chaperone/core/decision';
import type { ApprovalGate, ApprovalOutcome } from '../approvals/gate.js';
import { decodeBindParams, refusalFields } from '../approvals/pg-approval.js';
import { connectUpstream } from './auth.js';
import type { Upstream } from './auth.js';
import { BackendStream } from './backend-stream.js';
import { SessionMasking } from './mask-session.js';
import { SocketReader } from './socket-reader.js';
import { Framer, decodeErrorFields, decodeFrontend, decodeStartup, rowsFromTag } from './codec.js';
import {
  AUTHENTICATION_OK, SSL_NOT_SUPPORTED, SYNC, TERMINATE, encodeBackendKeyData, encodeBind, encodeErrorResponse,
  encodeNegotiateProtocolVersion, encodeReadyForQuery,
} from './encode.js';
import { B, F } from './messages.js';
import type { ErrorFields, ProtocolError, TxStatus } from './messages.js';
import type { PgObserver, ProxySettings, SqlVerdict } from './types.js';

/** What a session needs from its proxy. */
export interface SessionHost {
  readonly connectionName: string;
  settings(): ProxySettings;
  readonly observer: PgObserver | undefined;
  readonly logger: Logger | undefined;
  /** Holds statements of approve rules (approvals/gate.ts); undefined: they are refused. */
  readonly approvals?: ApprovalGate | undefined;
  /** Registers the BackendKeyData the agent was given; returns a function that unregisters it. */
  registerCancelKey(pid: number, secret: number, session: PgSession): () => void;
  /** Forwards an agent's CancelRequest (arriving on its own connection) to the right upstream. */
  cancel(pid: number, secret: number): void;
  sessionClosed(session: PgSession): void;
}

type Phase = 'startup' | 'connecting' | 'ready' | 'closed';

/** A statement the server is executing, awaiting CommandComplete / ErrorResponse. */
interface InFlight {
  flow: 'simple' | 'extended';
  text: string;
  verdict: SqlVerdict;
  start: number;
  /** Index of the ReadyForQuery that ends the statement's batch. */
  batch: number;
  rows?: number;
  tag?: string;
  error?: { code: string; message: string };
  /** The approval it was held for. */
  approval?: string;
}

/** A prepared statement as decided at Parse (and again at Bind after a policy update). */
interface Prepared {
  text: string; verdict: SqlVerdict; generation: number;
  /** Portals of approve statements: the Bind parameters the approval covers, and its id once approved. */
  params?: (string | null)[]; approved?: string;
}

type ApproveDecision = Extract<Decision, { action: 'approve' }>;
type StatementInfo = Parameters<PgObserver['statement']>[0];

/** A statement held for approval: the message that runs it (Query or Execute, a copy) waits here. */
interface Hold {
  flow: 'simple' | 'extended';
  text: string;
  params: (string | null)[];
  verdict: SqlVerdict;
  decision: ApproveDecision;
  frame: Buffer;
  /** The Execute's portal (extended), marked approved so a suspended portal continues. */
  portal?: Prepared;
  abort: AbortController;
  /** Withdrawn by the agent's CancelRequest (answered as a cancelled statement). */
  cancelled: boolean;
  started: number;
  /** The control plane's id once it has the request. */
  id?: string;
  /** The outcome was already reported (the session closed first and reported the withdrawal). */
  reported?: boolean;
}

/** Agent bytes queued behind a held statement before the session stops reading the agent. */
const HOLD_QUEUE_LIMIT = 1024 * 1024;
/**
 * While a held statement waits inside a transaction block, the idle server would be subject to
 * idle_in_transaction_session_timeout: a Sync every this many ms (its ReadyForQuery swallowed)
 * restarts that timer (a server timeout under this interval still ends the session). Sent only
 * when nothing is in flight upstream and no extended batch is open: mid-batch (Parse/Bind sent,
 * Execute held) the server is not idle and the timeout is not armed.
 */
const HOLD_KEEPALIVE_MS = 500;

/** The agent's startup parameters that are not forwarded: identity comes from the Connection. */
const DROPPED_PARAMS = new Set(['user', 'database']);

const AGENT_ERROR = 'ERROR';

/** The ErrorResponse fields the agent gets for a refused statement. */
export function denialFields(decision: Exclude<Decision, { action: 'allow' }>): ErrorFields {
  const detail = `chaperone rule ${decision.rule} (policy ${decision.policy})`;
  switch (decision.action) {
    case 'deny': return { S: AGENT_ERROR, V: AGENT_ERROR, C: '42501', M: decision.message, D: detail };
    case 'approve': return { S: AGENT_ERROR, V: AGENT_ERROR, C: '42501', M: `${decision.message} (needs approval, and approvals are not available here)`, D: detail };
  }
}

function fatal(code: string, message: string): ErrorFields {
  return { S: 'FATAL', V: 'FATAL', C: code, M: message };
}

/**
 * Writes the buffers as one syscall (a write, or one writev when there are several) and empties
 * the array for reuse; returns false when the socket wants a pause.
 */
function writeAll(socket: Socket, bufs: Buffer[]): boolean {
  if (bufs.length === 0) return true;
  let ok: boolean;
  if (bufs.length === 1) ok = socket.write(bufs[0] as Buffer);
  else {
    socket.cork();
    ok = true;
    for (const b of bufs) ok = socket.write(b);
    socket.uncork();
  }
  bufs.length = 0;
  return ok;
}

export class PgSession {
  readonly id: string;
  private phase: Phase = 'startup';
  private upstream: Upstream | null = null;
  private readonly framer = new Framer({ startup: true });
  private readonly backend: BackendStream;
  private readonly started = performance.now();
  /** The agent's socket; reads land in a reused buffer (socket-reader.ts). */
  private readonly client: Socket;
  private readonly clientReader: SocketReader;
  private upstreamReader: SocketReader | null = null;
  /** The masking stage (mask-session.ts), only when the connection has mask rules. */
  private mask: SessionMasking | null = null;
  private unregisterKey: (() => void) | null = null;
  private closeReason = 'client closed';
  private statements = 0;

  /** Agent bytes that arrived while the upstream connection was being set up (copies). */
  private early: Buffer[] = [];
  /** What to write in the current read callback; reused, emptied by each flush. */
  private readonly toUpstream: Buffer[] = [];
  private readonly toClient: Buffer[] = [];
  /**
   * Statements ended or refused during the current callback, recorded once its writes are out:
   * the record and its metrics are not part of the agent's round trip.
   */
  private readonly reports: StatementInfo[] = [];

  private status: TxStatus = 'I';
  /** ReadyForQuery messages the server owes (one per forwarded Query or Sync) and has sent. */
  private readyExpected = 0;
  private readyReceived = 0;
  private inFlight: InFlight[] = [];
  private prepared = new Map<string, Prepared>();
  private portals = new Map<string, Prepared>();
  /** Sentinel id → the denial to send instead of the server's error; `batch` for clean-up. */
  private sentinels = new Map<string, { error: Buffer; batch: number }>();
  private readonly sentinelPrefix = `chaperone_denied_${randomBytes(6).toString('hex')}_`;
  private sentinelSeq = 0;
  /** The statement held for approval, and the agent's frames behind it (copies, in order). */
  private hold: Hold | null = null;
  private holdQueue: Buffer[] = [];
  private holdQueueBytes = 0;
  private holdKeepalive: NodeJS.Timeout | undefined;
  /** Batches (ReadyForQuery indexes) that are keep-alive Syncs: their ReadyForQuery is not the agent's. */
  private keepaliveBatches = new Set<number>();
  /** A forwarded extended-protocol message is not yet followed by a Sync (no keep-alive Sync then). */
  private batchOpen = false;
  /** The server already sent a FATAL error, so a lost connection needs no error of our own. */
  private fatalRelayed = false;
  /** The BackendKeyData the agent was given (made up here; mapped to the server's on cancel). */
  readonly cancelKey = { pid: randomInt(1, 0x7fffffff), secret: randomInt(-0x80000000, 0x7fffffff) };

  constructor(socket: Socket, private readonly host: SessionHost, id: string) {
    this.id = id;
    this.backend = new BackendStream((type, buf, start, end) => this.onBackendMessage(type, buf, start, end));
    this.clientReader = new SocketReader(socket, this.onClientData);
    const client = this.clientReader.socket;
    this.client = client;
    client.setNoDelay(true);
    client.on('close', () => this.close(this.closeReason));
    client.on('error', (err) => { this.closeReason = `client error: ${err.message}`; });
  }

  /** The server's own BackendKeyData, for cancel requests. */
  get upstreamKey(): { pid: number; secret: number } | null {
    return this.upstream ? this.upstream.backendKey : null;
  }

  // ---- agent → server ------------------------------------------------------------------------

  private readonly onClientData = (chunk: Buffer): void => {
    if (this.phase === 'connecting') { this.early.push(Buffer.from(chunk)); return; }
    if (this.phase === 'closed') return;
    const error = this.framer.push(chunk, this.onFrame);
    this.flush(this.clientReader);
    if (error) this.protocolViolation(error);
  };

  private readonly onFrame = (type: number, frame: Buffer): void => {
    if (this.phase === 'ready') { if (this.hold === null) this.onMessage(type, frame); else this.queueBehindHold(frame); }
    else if (this.phase === 'startup') this.onStartupPacket(frame);
    else if (this.phase === 'connecting') this.early.push(Buffer.from(frame));
  };

  private onStartupPacket(frame: Buffer): void {
    const decoded = decodeStartup(frame);
    if (!decoded.ok) { this.fail(fatal(decoded.error.code, decoded.error.message), 'protocol violation'); return; }
    const msg = decoded.msg;
    switch (msg.type) {
      case 'SSLRequest':
      case 'GSSENCRequest':
        // The listener is on localhost inside the pod: encryption to the agent adds nothing.
        this.client.write(SSL_NOT_SUPPORTED);
        return;
      case 'CancelRequest':
        this.host.cancel(msg.pid, msg.secret);
        this.closeReason = 'cancel request';
        this.phase = 'closed';
        this.client.end();
        return;
      case 'StartupMessage': {
        if ('replication' in msg.params) { this.fail(fatal('42501', 'replication connections are not permitted through chaperone'), 'refused'); return; }
        const params: Record<string, string> = {};
        const unrecognized: string[] = [];
        for (const [k, v] of Object.entries(msg.params)) {
          if (k.startsWith('_pq_.')) unrecognized.push(k);
          else if (!DROPPED_PARAMS.has(k)) params[k] = v;
        }
        // "The server ... responds with NegotiateProtocolVersion" when it speaks an older minor version.
        if (msg.minor > 0 || unrecognized.length > 0) this.client.write(encodeNegotiateProtocolVersion(0, unrecognized));
        this.phase = 'connecting';
        this.safeObserve(() => this.host.observer?.sessionStarted({ id: this.id, client: { ...msg.params } }));
        void this.connect(params);
        return;
      }
    }
  }

  private async connect(params: Record<string, string>): Promise<void> {
    const s = this.host.settings();
    const result = await connectUpstream({ target: s.target, credential: s.credential, params });
    if (this.phase !== 'connecting') { if (result.ok) result.upstream.socket.destroy(); return; }
    if (!result.ok) { this.fail(result.fields, 'upstream connection failed'); return; }
    const up = result.upstream;
    const reader = new SocketReader(up.socket, this.onUpstreamData);
    up.socket = reader.socket;
    this.upstreamReader = reader;
    this.upstream = up;
    const masking = this.host.settings().masking;
    if (masking) {
      this.mask = new SessionMasking(() => this.host.settings().masking ?? masking, {
        deliver: (buf) => this.backend.push(buf, this.toClient), flush: () => this.flush(), upstream: up.socket, client: this.client,
        failed: (e) => this.fail(fatal('08P01', `upstream protocol violation: ${e.message}`), 'upstream protocol violation'), logger: this.host.logger,
      });
    }
    this.status = up.status;
    this.unregisterKey = this.host.registerCancelKey(this.cancelKey.pid, this.cancelKey.secret, this);
    up.socket.on('close', () => this.onUpstreamClosed());
    up.socket.on('error', (err) => this.host.logger?.debug({ session: this.id, err: err.message }, 'upstream socket error'));
    up.socket.resume();
    writeAll(this.client, [
      AUTHENTICATION_OK, ...up.parameterStatus, ...up.notices,
      encodeBackendKeyData(this.cancelKey.pid, this.cancelKey.secret), encodeReadyForQuery(up.status),
    ]);
    this.phase = 'ready';
    const early = this.early;
    this.early = [];
    for (const chunk of early) { this.onClientData(chunk); if (this.phase !== 'ready') break; }
  }

  private onMessage(type: number, frame: Buffer): void {
    // Hot path first: COPY data and simple queries ("Q", one string ending the message).
    if (type === F.CopyData) { this.toUpstream.push(frame); return; }
    if (type === F.Query && frame.length > 5 && frame.indexOf(0, 5) === frame.length - 1) {
      this.onQuery(frame.toString('utf8', 5, frame.length - 1), frame);
      return;
    }
    const decoded = decodeFrontend(frame);
    if (!decoded.ok) { this.protocolViolation(decoded.error); return; }
    const msg = decoded.msg;
    switch (msg.type) {
      case 'Query': this.onQuery(msg.text, frame); return;
      case 'Parse': this.onParse(msg.name, msg.text, frame); return;
      case 'Bind': this.onBind(msg.portal, msg.statement, frame); return;
      case 'Execute': {
        const p = this.portals.get(msg.portal);
        const d = p?.verdict.decision;
        if (p && d?.action === 'approve' && p.approved === undefined) { this.startHold('extended', p.text, p.params ?? [], p.verdict, d, frame, p); return; }
        if (p && this.host.observer) {
          const f: InFlight = { flow: 'extended', text: p.text, verdict: p.verdict, start: performance.now(), batch: this.readyExpected };
          if (p.approved !== undefined) f.approval = p.approved;
          this.inFlight.push(f);
        }
        this.batchOpen = true;
        this.toUpstream.push(frame);
        return;
      }
      case 'Close':
        if (msg.target === 'S') this.prepared.delete(msg.name); else this.portals.delete(msg.name);
        this.toUpstream.push(frame);
        return;
      case 'Sync':
        this.readyExpected++;
        this.batchOpen = false;
        this.toUpstream.push(frame);
        return;
      case 'Describe': case 'Flush':
        this.batchOpen = true;
        this.toUpstream.push(frame);
        return;
      case 'CopyDone': case 'CopyFail':
        this.toUpstream.push(frame);
        return;
      case 'Terminate':
        this.closeReason = 'client terminated';
        this.toUpstream.push(frame);
        return;
      case 'CopyData':
        this.toUpstream.push(frame);
        return;
      case 'FunctionCall':
        // The fast-path function call names a function by OID: there is no SQL text to decide on.
        this.refuseSimple({ S: AGENT_ERROR, V: AGENT_ERROR, C: '42501', M: 'function call messages are not permitted through chaperone' });
        return;
      case 'Password':
        this.protocolViolation({ code: '08P01', message: 'unexpected password message' });
        return;
    }
  }

  private decide(text: string): SqlVerdict | null {
    try {
      return this.host.settings().enforce(text);
    } catch (err) {
      // Fail closed: a broken enforcer denies.
      this.host.logger?.error({ session: this.id, err }, 'enforce failed; denying');
      return null;
    }
  }

  private onQuery(text: string, frame: Buffer): void {
    const verdict = this.decide(text) ?? failClosed();
    const decision = verdict.decision;
    switch (decision.action) {
      case 'allow':
        if (this.host.observer) this.inFlight.push({ flow: 'simple', text, verdict, start: performance.now(), batch: this.readyExpected });
        this.readyExpected++;
        this.toUpstream.push(frame);
        return;
      case 'approve':
      case 'deny': {
        if (decision.action === 'approve' && this.host.approvals) { this.startHold('simple', text, [], verdict, decision, frame, undefined); return; }
        // Denied, or an approve rule with nobody to ask: refused.
        const fields = denialFields(decision);
        this.recordDenied('simple', text, verdict, fields);
        this.refuseSimple(fields);
        return;
      }
    }
  }

  private onParse(name: string, text: string, frame: Buffer): void {
    const verdict = this.decide(text) ?? failClosed();
    const prepared = { text, verdict, generation: this.host.settings().generation };
    this.prepared.set(name, prepared);
    const decision = verdict.decision;
    switch (decision.action) {
      case 'allow':
        this.batchOpen = true;
        this.toUpstream.push(frame);
        return;
      case 'approve':
      case 'deny': {
        // Parsing runs nothing: an approve statement's hold comes at Execute, with the Bind parameters.
        if (decision.action === 'approve' && this.host.approvals) { this.batchOpen = true; this.toUpstream.push(frame); return; }
        const fields = denialFields(decision);
        this.recordDenied('extended', text, verdict, fields);
        this.sendSentinel(fields);
        return;
      }
    }
  }

  private onBind(portal: string, statement: string, frame: Buffer): void {
    let p = this.prepared.get(statement);
    const generation = this.host.settings().generation;
    if (p && p.generation !== generation) {
      // Policy changed since Parse: decide again before the statement runs.
      p = { text: p.text, verdict: this.decide(p.text) ?? failClosed(), generation };
      this.prepared.set(statement, p);
    }
    const decision = p?.verdict.decision;
    if (p && decision?.action === 'approve' && this.host.approvals) {
      // Each Bind is a new portal, approved on its own: the approval covers these parameters.
      this.portals.set(portal, { ...p, params: decodeBindParams(frame) ?? ['<malformed Bind parameters>'] });
      this.batchOpen = true;
      this.toUpstream.push(frame);
      return;
    }
    if (p) this.portals.set(portal, p); else this.portals.delete(portal);
    if (!decision || decision.action === 'allow') { this.batchOpen = true; this.toUpstream.push(frame); return; }
    this.portals.delete(portal);
    this.sendSentinel(denialFields(decision));
  }

  /** Replaces a refused message upstream by a Bind the server must fail (see the top of this file). */
  private sendSentinel(fields: ErrorFields): void {
    const id = `${this.sentinelPrefix}${this.sentinelSeq++}`;
    this.sentinels.set(id, { error: encodeErrorResponse(fields), batch: this.readyExpected });
    this.batchOpen = true;
    this.toUpstream.push(encodeBind('', id));
  }

  /**
   * Refuses a simple-protocol message (Query, FunctionCall): sentinel + Sync upstream, so the
   * server aborts the transaction as it would for its own error and ends with ReadyForQuery.
   */
  private refuseSimple(fields: ErrorFields): void {
    this.sendSentinel(fields);
    this.readyExpected++;
    this.batchOpen = false;
    this.toUpstream.push(SYNC);
  }

  // ---- holding a statement for approval ------------------------------------------------------

  /**
   * Holds the message that would run an approve statement (a Query, or an Execute whose Parse and
   * Bind went through) until the approval's outcome; what the agent sends meanwhile queues behind
   * it, in order. Nothing of it reaches the server before an approver says yes.
   */
  private startHold(flow: 'simple' | 'extended', text: string, params: (string | null)[], verdict: SqlVerdict, decision: ApproveDecision, frame: Buffer, portal: Prepared | undefined): void {
    const gate = this.host.approvals;
    if (!gate) {
      // Nobody to ask (callers check first): refused as a deny, never dropped.
      const fields = denialFields(decision);
      this.recordDenied(flow, text, verdict, fields);
      if (flow === 'simple') this.refuseSimple(fields); else this.sendSentinel(fields);
      return;
    }
    const hold: Hold = { flow, text, params, verdict, decision, frame: Buffer.from(frame), abort: new AbortController(), cancelled: false, started: performance.now() };
    if (portal) hold.portal = portal;
    this.hold = hold;
    this.armKeepalive();
    const observer = this.host.observer;
    const rule = { policy: decision.policy, rule: decision.rule };
    const request = gate.request({
      session: this.id, protocol: 'postgres', connection: this.host.connectionName,
      operation: { kind: 'sql', text, params }, rule, approvers: decision.approvers,
      timeoutSeconds: decision.timeoutSeconds, message: decision.message,
    }, hold.abort.signal, (approval) => {
      hold.id = approval.id;
      this.safeObserve(() => observer?.approval?.({ session: this.id, id: approval.id, state: 'pending', rule }));
    });
    void request.then(
      (outcome) => this.onHoldOutcome(hold, outcome),
      // The gate never rejects; should one, fail closed all the same.
      (err: unknown) => this.onHoldOutcome(hold, { state: 'unavailable', error: err instanceof Error ? err.message : String(err) }),
    );
  }

  private onHoldOutcome(hold: Hold, outcome: ApprovalOutcome): void {
    const approval = outcome.state === 'unavailable' ? undefined : outcome.approval;
    const id = approval?.id ?? hold.id;
    this.reportHoldOutcome(hold, outcome.state, approval?.decidedBy ?? undefined, approval?.reason ?? undefined);
    if (this.hold !== hold || this.phase !== 'ready') return; // the session ended meanwhile
    this.endHold();
    if (outcome.state === 'approved') {
      // Runs exactly as submitted: the held message itself goes upstream now.
      if (hold.portal) hold.portal.approved = outcome.approval.id;
      if (this.host.observer) {
        this.inFlight.push({ flow: hold.flow, text: hold.text, verdict: hold.verdict, start: performance.now(), batch: this.readyExpected, approval: outcome.approval.id });
      }
      if (hold.flow === 'simple') { this.readyExpected++; this.batchOpen = false; } else this.batchOpen = true;
      this.toUpstream.push(hold.frame);
    } else {
      const fields = refusalFields(outcome, hold.decision, hold.cancelled);
      this.recordDenied(hold.flow, hold.text, hold.verdict, fields, id);
      // In the Execute's place (the server skips the rest up to Sync), or as a whole refused Query.
      if (hold.flow === 'simple') this.refuseSimple(fields); else this.sendSentinel(fields);
    }
    this.flush();
    this.releaseHoldQueue();
  }

  private reportHoldOutcome(hold: Hold, state: ApprovalOutcome['state'], by: string | undefined, reason: string | undefined): void {
    if (hold.reported) return;
    hold.reported = true;
    const info: Parameters<NonNullable<PgObserver['approval']>>[0] = {
      session: this.id, state, rule: { policy: hold.decision.policy, rule: hold.decision.rule }, waitedMs: microseconds(performance.now() - hold.started),
    };
    if (hold.id !== undefined) info.id = hold.id;
    if (by) info.by = by;
    if (reason) info.reason = reason;
    this.safeObserve(() => this.host.observer?.approval?.(info));
  }

  /** Replays what queued behind a hold, until done or the next hold. */
  private releaseHoldQueue(): void {
    const queue = this.holdQueue;
    this.holdQueue = [];
    this.holdQueueBytes = 0;
    let i = 0;
    for (; i < queue.length && this.hold === null && this.phase === 'ready'; i++) {
      const frame = queue[i] as Buffer;
      this.onMessage(frame[0] as number, frame);
    }
    if (i < queue.length) {
      const rest = queue.slice(i);
      for (const f of this.holdQueue) rest.push(f);
      this.holdQueue = rest;
      for (const f of rest) this.holdQueueBytes += f.length;
    }
    this.flush();
    if (this.phase === 'ready' && this.hold === null && this.client.isPaused()) this.client.resume();
  }

  private queueBehindHold(frame: Buffer): void {
    this.holdQueue.push(Buffer.from(frame));
    this.holdQueueBytes += frame.length;
    // Bounded memory: stop reading the agent (the kernel's buffers fill, then its writes block).
    if (this.holdQueueBytes > HOLD_QUEUE_LIMIT && !this.client.isPaused()) this.client.pause();
  }

  /** The agent's CancelRequest: withdraws a held statement; false when nothing is held. */
  cancelHold(): boolean {
    const hold = this.hold;
    if (!hold) return false;
    hold.cancelled = true;
    hold.abort.abort();
    return true;
  }

  /** Ends the hold's bookkeeping; aborting withdraws a request still waiting (disconnect, shutdown). */
  private endHold(): void {
    const hold = this.hold;
    clearInterval(this.holdKeepalive);
    this.holdKeepalive = undefined;
    if (!hold) return;
    this.hold = null;
    if (this.phase !== 'closed') return;
    // The agent is gone: withdraw, and record it now, before the session's end record.
    hold.abort.abort();
    this.reportHoldOutcome(hold, 'withdrawn', undefined, undefined);
  }

  /** See HOLD_KEEPALIVE_MS. */
  private armKeepalive(): void {
    this.holdKeepalive = setInterval(() => {
      const up = this.upstream?.socket;
      if (this.phase !== 'ready' || !up || this.status === 'I' || this.batchOpen || this.readyReceived !== this.readyExpected) return;
      this.keepaliveBatches.add(this.readyExpected++);
      this.mask?.frontend(SYNC);
      up.write(SYNC);
    }, HOLD_KEEPALIVE_MS);
    this.holdKeepalive.unref();
  }

  private recordDenied(flow: 'simple' | 'extended', text: string, verdict: SqlVerdict, fields: ErrorFields, approval?: string): void {
    this.statements++;
    if (!this.host.observer) return;
    const info: StatementInfo = { session: this.id, text, flow, verdict, durationMs: 0, error: { code: fields.C ?? '42501', message: fields.M ?? '' } };
    if (approval !== undefined) info.approval = approval;
    info.refused = true;
    this.reports.push(info);
  }

  // ---- server → agent ------------------------------------------------------------------------

  private readonly onUpstreamData = (chunk: Buffer): void => {
    if (this.phase !== 'ready') return;
    const error = this.mask ? this.mask.push(chunk) : this.backend.push(chunk, this.toClient);
    this.flush(this.upstreamReader);
    if (error) this.fail(fatal('08P01', `upstream protocol violation: ${error.message}`), 'upstream protocol violation');
  };

  /** A backend message, `buf[start..end)`, held whole (null: streamed through, e.g. DataRow). */
  private onBackendMessage(type: number, buf: Buffer | null, start: number, end: number): Buffer[] | undefined {
    if (buf === null) return undefined;
    switch (type) {
      case B.ReadyForQuery: return this.onReadyForQuery(buf[start + 5]);
      case B.CommandComplete: this.onCompletion(buf.toString('utf8', start + 5, end - 1)); return undefined;
      case B.EmptyQueryResponse: case B.PortalSuspended: this.onCompletion(undefined); return undefined;
      case B.ErrorResponse: return this.onErrorResponse(buf.subarray(start, end));
      default: return undefined;
    }
  }

  private onReadyForQuery(s: number | undefined): Buffer[] | undefined {
    this.status = s === 0x54 ? 'T' : s === 0x45 ? 'E' : 'I';
    const batch = this.readyReceived++;
    if (this.keepaliveBatches.size > 0 && this.keepaliveBatches.delete(batch)) return [];
    for (let head = this.inFlight[0]; head && head.batch <= batch; head = this.inFlight[0]) {
      this.inFlight.shift();
      if (head.flow === 'simple') this.finish(head); // extended ones still here were skipped after an error
    }
    if (this.sentinels.size > 0) for (const [id, sentinel] of this.sentinels) if (sentinel.batch <= batch) this.sentinels.delete(id);
    return undefined;
  }

  private onCompletion(tag: string | undefined): void {
    const head = this.inFlight[0];
    if (!head || head.batch !== this.readyReceived) return;
    if (tag !== undefined) {
      head.tag = tag;
      const rows = rowsFromTag(tag);
      if (rows !== undefined) head.rows = head.flow === 'simple' ? (head.rows ?? 0) + rows : rows;
    }
    if (head.flow === 'extended') { this.inFlight.shift(); this.finish(head); }
  }

  private onErrorResponse(frame: Buffer): Buffer[] | undefined {
    const fields = decodeErrorFields(frame);
    if (!fields) return undefined;
    let replacement: Buffer[] | undefined;
    const message = fields.M ?? '';
    if (this.sentinels.size > 0 && fields.C === '26000' && message.includes(this.sentinelPrefix)) {
      const id = /"([^"]+)"/.exec(message)?.[1];
      const s = id === undefined ? undefined : this.sentinels.get(id);
      if (s && id !== undefined) { this.sentinels.delete(id); replacement = [s.error]; }
    }
    const severity = fields.V ?? fields.S;
    if (severity === 'FATAL' || severity === 'PANIC') this.fatalRelayed = true;
    const head = this.inFlight[0];
    if (head && head.batch === this.readyReceived && !replacement) {
      head.error = { code: fields.C ?? 'XX000', message };
      if (head.flow === 'extended') { this.inFlight.shift(); this.finish(head); }
    }
    return replacement;
  }

  private finish(s: InFlight): void {
    this.statements++;
    if (!this.host.observer) return;
    const info: StatementInfo = {
      session: this.id, text: s.text, flow: s.flow, verdict: s.verdict, durationMs: microseconds(performance.now() - s.start),
    };
    if (s.rows !== undefined) info.rows = s.rows;
    if (s.tag !== undefined) info.tag = s.tag;
    if (s.error) info.error = s.error;
    if (s.approval !== undefined) info.approval = s.approval;
    const masked = this.mask?.takeCounts();
    if (masked) info.masked = masked;
    this.reports.push(info);
  }

  /** Hands the waiting statement records to the observer, in order (see `reports`). */
  private report(): void {
    const observer = this.host.observer;
    const reports = this.reports;
    for (let i = 0; i < reports.length; i++) {
      try { observer?.statement(reports[i] as StatementInfo); } catch (err) { this.observerFailed(err); }
    }
    reports.length = 0;
  }

  // ---- I/O, failures, shutdown ---------------------------------------------------------------

  /**
   * Writes what the current read produced. The buffers may be views of `source`'s read buffer:
   * if a socket did not take them at once, that buffer now belongs to the queued write.
   */
  private flush(source: SocketReader | null = null): void {
    const up = this.upstream?.socket;
    if (this.toUpstream.length > 0 && up) {
      if (this.mask) for (const f of this.toUpstream) this.mask.frontend(f);
      if (!writeAll(up, this.toUpstream)) this.backpressure(this.client, up);
    }
    if (this.toClient.length > 0) {
      if (!writeAll(this.client, this.toClient) && up) this.backpressure(up, this.client);
    }
    if (source && (this.client.writableLength > 0 || (up !== undefined && up.writableLength > 0))) source.detach();
    if (this.reports.length > 0) this.report();
  }

  /** Stops reading `from` until `to` has drained: memory stays bounded for any result size. */
  private backpressure(from: Socket, to: Socket): void {
    if (from.isPaused()) return;
    from.pause();
    to.once('drain', () => { if (this.phase !== 'closed') from.resume(); });
  }

  private protocolViolation(error: ProtocolError): void {
    this.host.logger?.warn({ session: this.id, error }, 'malformed frontend message');
    this.fail(fatal('08P01', error.message), 'protocol violation');
  }

  /** Sends a final ErrorResponse to the agent and closes both sides. */
  private fail(fields: ErrorFields, reason: string): void {
    if (this.phase === 'closed') return;
    this.closeReason = reason;
    this.toClient.push(...this.backend.inject([encodeErrorResponse(fields)]));
    this.flush();
    this.client.end();
    this.close(reason);
  }

  private onUpstreamClosed(): void {
    if (this.phase !== 'ready') return;
    if (this.closeReason === 'client terminated') { this.client.end(); this.close(this.closeReason); return; }
    if (this.fatalRelayed) { this.client.end(); this.close('upstream closed'); return; }
    this.fail(fatal('08006', 'connection to the upstream server was lost'), 'upstream lost');
  }

  /** Ends the session (idempotent): closes the upstream, unregisters, reports. */
  close(reason: string): void {
    if (this.phase === 'closed') return;
    const wasStarted = this.phase !== 'startup';
    this.phase = 'closed';
    this.endHold();
    this.unregisterKey?.();
    const up = this.upstream?.socket;
    if (up && !up.destroyed) up.end(TERMINATE);
    if (!this.client.destroyed) this.client.end();
    this.host.sessionClosed(this);
    if (wasStarted) {
      const observer = this.host.observer;
      this.safeObserve(() => observer?.sessionEnded({
        session: this.id, reason, statements: this.statements, durationMs: performance.now() - this.started,
      }));
    }
  }

  /** Destroys both sockets at once (proxy shutdown). */
  destroy(): void {
    this.close('proxy closed');
    this.client.destroy();
    this.upstream?.socket.destroy();
  }

  private safeObserve(f: () => void): void {
    // Statement records waiting for a flush come first: records stay in the order things happened.
    if (this.reports.length > 0) this.report();
    try { f(); } catch (err) { this.observerFailed(err); }
  }

  private observerFailed(err: unknown): void {
    this.host.logger?.warn({ session: this.id, err }, 'observer failed');
  }
}

/**
 * A duration in ms kept to the microsecond: finer digits are clock noise, and a double's full
 * shortest form (0.051234000000000016) costs time to print and bytes in every record.
 */
function microseconds(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The verdict used when the enforcer itself fails: deny, never allow by accident. */
function failClosed(): SqlVerdict {
  return {
    decision: { action: 'deny', message: 'statement could not be checked (policy error)', policy: '', rule: 'enforce-error' },
    kinds: [], tables: [], redactLiterals: true,
  };
}
