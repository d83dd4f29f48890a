// The masking stage of a session's server → agent stream, present only when the connection has
// mask rules. It frames the server's messages, pairs each result with the request that produced
// it (the frontend messages as sent upstream, in order), resolves the result's plan when its
// RowDescription (or Bind formats, or CopyOutResponse) arrives, and rewrites DataRow and COPY rows.
// While a plan waits for the catalog, the rest of the stream is held, in order, with the upstream
// paused; otherwise nothing is buffered beyond one message (a result is never held whole).
import { MAX_MESSAGE_LENGTH } from './codec.js';
import { encodeErrorResponse, encodeReadyForQuery } from './encode.js';
import { rewriteCopyRow, copyFormatOf } from './mask-copy.js';
import type { CopyState } from './mask-copy.js';
import { loadNeeds, mayFetch, mayWrite, parseRowDescription, resolveWithCatalog } from './mask-plan.js';
import { declaredCursorName } from '@chaperone/core/sql/lineage';
import type { MaskPlanner } from './mask-plan.js';
import type { Field, Needs, Resolution } from './mask-plan.js';
import { scrubNotification, scrubParameterStatus } from './mask-async.js';
import { scrubServerMessage } from './mask-errors.js';
import { rewriteDataRow, RowWriter } from './mask-rows.js';
import type { MaskTally, RowPlan } from './mask-rows.js';
import type { Catalog } from './catalog.js';
import { B, F } from './messages.js';
import type { ErrorFields, ProtocolError } from './messages.js';

export interface MaskStreamHost {
  /** Bytes for the agent, in order (the session's BackendStream takes them). */
  deliver(buf: Buffer): void;
  /** Stop reading the upstream: a result waits for the catalog. */
  pause(): void;
  /** The wait is over and what was held has been delivered: flush and read the upstream again. */
  resume(): void;
  /** The catalog could not be asked or a mask threw (logged by the host; the result is refused). */
  maskFailed(err: unknown): void;
}

/** What the agent gets instead of a result that cannot be masked safely. */
export function refusalFields(reason: string): ErrorFields {
  return {
    S: 'ERROR', V: 'ERROR', C: '42501',
    M: 'result withheld: masking is on for this connection and this result cannot be masked safely',
    D: reason,
  };
}

interface Statement {
  text: string;
  /** From Describe (statement): fields with format 0. */
  fields?: Field[];
  plans?: Map<string, Resolution>;
  gen?: number;
}
interface Portal { statement: Statement | undefined; formats: number[]; fields?: Field[] }

/**
 * What the server owes, in the order the requests went upstream. Names are resolved when the
 * answer comes, and a Parse or Bind counts only once the server confirmed it (a failed Parse of a
 * name in use must not change what that name runs as far as masking knows).
 */
type Expect =
  | { t: 'query'; text: string | undefined }
  | { t: 'parse'; name: string; text: string | undefined }
  | { t: 'bind'; portal: string; statement: string; formats: number[] | undefined }
  | { t: 'close'; target: number; name: string }
  | { t: 'sync' }
  | { t: 'describe'; target: number; name: string }
  | { t: 'execute'; name: string };

/** Current result: how its rows are rewritten (null: passed as they are). */
type Current =
  | { t: 'none' }
  | { t: 'rows'; plan: RowPlan | null }
  | { t: 'copy'; plan: RowPlan | null; state: CopyState };

const NONE: Current = { t: 'none' };

/** Plan-cache marker: this RowDescription has computed columns, so the plan depends on the statement. */
const BY_TEXT = Symbol('by-text');

/** Bound on cursors tracked per session (more: all forgotten; their computed columns are refused). */
const MAX_CURSORS = 64;

/** DDL command tags: after them (and after the transaction that holds them) the catalog is asked again. */
const DDL_TAG = /^(CREATE|ALTER|DROP|COMMENT|REFRESH|IMPORT|SECURITY|GRANT|REVOKE) /;

export class MaskStream {
  /** A message cut by a chunk's end: its bytes so far, and its total size once the header is in (else 0). */
  private carry: Buffer[] = [];
  private carryLength = 0;
  private carryNeed = 0;
  private readonly expect: Expect[] = [];
  private statements = new Map<string, Statement>();
  private portals = new Map<string, Portal>();
  /** Simple Query: index of the statement whose results come now. */
  private index = 0;
  private current: Current = NONE;
  /** A refused result: drop the server's messages up to ReadyForQuery (the agent has our error). */
  private refusing = false;
  /** A DDL went through in the open transaction: ask the catalog again once it ends. */
  private ddlInTransaction = false;
  /** Frames that arrived while a plan waits for the catalog (copies), and the resolution when done. */
  private waiting = false;
  private held: Buffer[] = [];
  private resolved: Resolution | null = null;
  private simplePlans = new Map<string, Resolution | typeof BY_TEXT>();
  private simpleGen = -1;
  /** Output of one push: a run of the chunk passed as is, and pieces already closed. */
  private out: Buffer[] = [];
  private runBuf: Buffer | null = null;
  private runStart = 0;
  private runEnd = 0;
  private failed: ProtocolError | null = null;
  /**
   * Cursors declared through this session in the open transaction (name → declaring text and
   * statement index), so FETCH results are traced through the cursor's query. Forgotten when
   * the transaction ends or rolls back (to a savepoint too) and on any CLOSE or DISCARD: a stale
   * entry could describe a cursor that no longer exists under a name something else now uses.
   */
  private cursors = new Map<string, { text: string; index: number }>();
  private readonly cursorLookup = (name: string): { text: string; index: number } | undefined => this.cursors.get(name);
  /** Rewritten rows, written next to each other (mask-rows.ts). */
  private readonly writer = new RowWriter();

  constructor(
    private readonly host: MaskStreamHost,
    private readonly currentPlanner: () => MaskPlanner,
    private readonly catalog: Catalog,
    private readonly tally: MaskTally,
  ) {}

  private get planner(): MaskPlanner { return this.currentPlanner(); }

  // ---- agent → server: what the server will answer, in order ---------------------------------

  /** One whole frontend frame as it goes upstream (after the session's decisions). */
  frontend(frame: Buffer): void {
    switch (frame[0]) {
      case F.Query: {
        const end = frame.indexOf(0, 5);
        const text = frame.toString('utf8', 5, end < 0 ? frame.length : end);
        this.expect.push({ t: 'query', text });
        this.remember(text);
        return;
      }
      case F.FunctionCall: this.expect.push({ t: 'query', text: undefined }); return;
      case F.Parse: {
        const n1 = frame.indexOf(0, 5); const n2 = n1 < 0 ? -1 : frame.indexOf(0, n1 + 1);
        if (n2 < 0) { this.expect.push({ t: 'parse', name: '', text: undefined }); return; }
        const text = frame.toString('utf8', n1 + 1, n2);
        this.expect.push({ t: 'parse', name: frame.toString('utf8', 5, n1), text });
        this.remember(text);
        return;
      }
      case F.Bind: {
        const b = parseBind(frame);
        this.expect.push(b ? { t: 'bind', portal: b.portal, statement: b.statement, formats: b.formats } : { t: 'bind', portal: '', statement: '', formats: undefined });
        return;
      }
      case F.Describe: {
        const nameEnd = frame.indexOf(0, 6);
        const name = frame.toString('utf8', 6, nameEnd < 0 ? frame.length : nameEnd);
        this.expect.push({ t: 'describe', target: frame[5] ?? 0, name });
        return;
      }
      case F.Execute: {
        const nameEnd = frame.indexOf(0, 5);
        this.expect.push({ t: 'execute', name: frame.toString('utf8', 5, nameEnd < 0 ? frame.length : nameEnd) });
        return;
      }
      case F.Close: {
        const nameEnd = frame.indexOf(0, 6);
        const name = frame.toString('utf8', 6, nameEnd < 0 ? frame.length : nameEnd);
        this.expect.push({ t: 'close', target: frame[5] ?? 0, name });
        return;
      }
      case F.Sync: this.expect.push({ t: 'sync' }); return;
      default: return; // CopyData/CopyDone/CopyFail, Flush, Terminate: no answer of their own
    }
  }

  // ---- server → agent --------------------------------------------------------------------------

  /** Scans one upstream chunk; what is ready goes to host.deliver before this returns. */
  push(chunk: Buffer): ProtocolError | null {
    if (this.failed) return this.failed;
    const error = this.frames(chunk);
    this.flushOut();
    // Still waiting for the catalog: a drain may have resumed the upstream; hold it again.
    if (this.waiting) this.host.pause();
    if (error) this.failed = error;
    return this.failed;
  }

  /**
   * Frames one chunk: whole messages are handled in place (DataRows by offsets, no Buffer made
   * per row); a message cut by the chunk's end is copied and completed from the next chunks.
   */
  private frames(chunk: Buffer): ProtocolError | null {
    let from = 0;
    if (this.carryLength > 0) {
      // Complete the message begun in earlier chunks (its header first, when that was cut too).
      if (this.carryNeed === 0) {
        const head = Buffer.concat([...this.carry, chunk.subarray(0, Math.min(chunk.length, 5 - this.carryLength))]);
        if (head.length < 5) { this.carry = [head]; this.carryLength = head.length; return null; }
        const len = head.readInt32BE(1);
        if (len < 4 || len > MAX_MESSAGE_LENGTH) return { code: '08P01', message: `invalid message length ${len}` };
        this.carryNeed = len + 1;
      }
      const take = Math.min(chunk.length, this.carryNeed - this.carryLength);
      this.carry.push(Buffer.from(chunk.subarray(0, take)));
      this.carryLength += take;
      if (this.carryLength < this.carryNeed) return null;
      const frame = Buffer.concat(this.carry, this.carryNeed);
      this.carry = []; this.carryLength = 0; this.carryNeed = 0;
      this.onFrame(frame[0] as number, frame);
      from = take;
    }
    const n = chunk.length;
    let i = from;
    while (n - i >= 5) {
      const type = chunk[i] as number;
      const len = chunk.readInt32BE(i + 1);
      if (len < 4 || len > MAX_MESSAGE_LENGTH) return { code: '08P01', message: `invalid message length ${len}` };
      if (n - i < len + 1) break;
      const end = i + len + 1;
      if (type === B.DataRow && !this.waiting && !this.refusing && this.current.t === 'rows') this.dataRow(chunk, i, end);
      else this.onFrame(type, chunk.subarray(i, end));
      i = end;
    }
    if (i < n) {
      this.carry = [Buffer.from(chunk.subarray(i))];
      this.carryLength = n - i;
      if (n - i >= 5) this.carryNeed = chunk.readInt32BE(i + 1) + 1;
    }
    return null;
  }

  private readonly onFrame = (type: number, frame: Buffer): void => {
    if (this.waiting) { this.held.push(Buffer.from(frame)); return; }
    this.handle(type, frame);
  };

  private handle(type: number, frame: Buffer): void {
    if (this.refusing) {
      // The agent has our error for this batch: the server's messages up to ReadyForQuery are dropped.
      if (type === B.ReadyForQuery) {
        this.refusing = false;
        this.track(type, frame);
        // An open transaction is reported failed, as PostgreSQL does after an error: the agent rolls back.
        this.replace(frame[5] === 0x54 ? encodeReadyForQuery('E') : frame);
      } else if (type === B.NoticeResponse) {
        this.emitScrubbed(frame, this.answeringText());
      } else if (type === B.ParameterStatus || type === B.NotificationResponse) {
        this.emitAsync(type, frame);
      }
      return;
    }
    switch (type) {
      case B.DataRow: {
        const c = this.current;
        if (c.t === 'none' && this.head()?.t === 'execute') { if (!this.startExecute(frame)) return; }
        this.dataRow(frame, 0, frame.length);
        return;
      }
      case B.CopyData: {
        const cur = this.current;
        if (cur.t !== 'copy' || cur.plan === null) { this.emit(frame); return; }
        let row: Buffer | null | undefined;
        try { row = rewriteCopyRow(frame, cur.plan, cur.state, this.tally); } catch (err) { this.host.maskFailed(err); row = undefined; }
        if (row === undefined) { this.refuse('a COPY row that does not match the statement\'s columns'); return; }
        if (row === null) this.emit(frame); else this.replace(row);
        return;
      }
      case B.RowDescription: {
        const head = this.head();
        if (head?.t === 'describe') {
          this.described(head, parseRowDescription(frame, 0, frame.length));
          this.expect.shift();
          this.emit(frame);
          return;
        }
        if (head?.t === 'query') { this.startSimpleResult(frame, head.text); return; }
        this.emit(frame);
        return;
      }
      case B.CopyOutResponse: { this.startCopy(frame); return; }
      case B.ParameterStatus: case B.NotificationResponse:
        this.emitAsync(type, frame);
        return;
      case B.ErrorResponse: case B.NoticeResponse: {
        const text = this.answeringText();
        this.track(type, frame);
        this.emitScrubbed(frame, text);
        return;
      }
      default:
        this.track(type, frame);
        this.emit(frame);
    }
  }

  /** One DataRow, `buf[start..end)`, of the current result: passed, rewritten or refused. */
  private dataRow(buf: Buffer, start: number, end: number): void {
    const cur = this.current;
    // Rows with no description to go by cannot be masked: fail closed.
    if (cur.t !== 'rows') { this.refuse('rows arrived without a description'); return; }
    if (cur.plan === null) { this.emitRange(buf, start, end); return; }
    let done: boolean | undefined;
    try {
      done = rewriteDataRow(buf, start, end, cur.plan, this.tally, this.writer, this.out);
    } catch (err) {
      // A failing mask or detector must not pass the value: fail closed.
      this.host.maskFailed(err);
      done = undefined;
    }
    if (done === undefined) { this.refuse('a row could not be masked'); return; }
    // Rewritten: the row is in the writer; what ran before it goes out first.
    if (done) this.closeRun(); else this.emitRange(buf, start, end);
  }

  /** Keeps the request/answer pairing for the messages that end or move on from requests. */
  private track(type: number, frame: Buffer): void {
    // A result may end here: its masked-value counts go to the tally before the session reads them.
    if (type !== B.ParseComplete && type !== B.BindComplete) this.writer.flushCounts();
    switch (type) {
      case B.ParseComplete: case B.BindComplete: case B.CloseComplete: case B.NoData: {
        const h = this.head();
        if (type === B.ParseComplete && h?.t === 'parse' && h.text !== undefined) this.statements.set(h.name, { text: h.text });
        // An unreadable Bind leaves its portal unknown: its rows are refused when column rules apply.
        if (type === B.BindComplete && h?.t === 'bind') {
          if (h.formats === undefined) this.portals.delete(h.portal);
          else this.portals.set(h.portal, { statement: this.statements.get(h.statement), formats: h.formats });
        }
        if (type === B.CloseComplete && h?.t === 'close') { if (h.target === 0x53) this.statements.delete(h.name); else this.portals.delete(h.name); }
        if (type === B.NoData && h?.t === 'describe') this.described(h, []);
        this.expect.shift();
        return;
      }
      case B.CommandComplete: case B.EmptyQueryResponse: case B.PortalSuspended: {
        // Every statement ends here, masked columns or not: the commonest tag (SELECT n) ends no
        // cursor and changes no schema, so it is not decoded; others are decoded once.
        if (type === B.CommandComplete && !isSelectTag(frame)) {
          const tag = frame.toString('latin1', 5, Math.min(frame.length, 40));
          this.cursorCommand(tag);
          if (DDL_TAG.test(tag)) {
            this.catalog.invalidate();
            this.ddlInTransaction = true;
          }
        }
        this.current = NONE;
        const h = this.head();
        if (h?.t === 'query') this.index++;
        else if (h?.t === 'execute') this.expect.shift();
        return;
      }
      case B.ErrorResponse: {
        this.current = NONE;
        const h = this.head();
        // Extended protocol: the server skips to Sync.
        if (h && h.t !== 'query') while (this.expect.length > 0 && this.head()?.t !== 'sync') this.expect.shift();
        return;
      }
      case B.ReadyForQuery: {
        this.current = NONE;
        const h = this.expect.shift();
        if (h && h.t !== 'sync' && h.t !== 'query') while (this.expect.length > 0 && this.expect.shift()?.t !== 'sync');
        this.index = 0;
        if (frame[5] !== 0x54 && this.cursors.size > 0) this.cursors.clear(); // clear() allocates, even when empty
        if (frame[5] === 0x49 && this.ddlInTransaction) { this.ddlInTransaction = false; this.catalog.invalidate(); }
        return;
      }
      default:
    }
  }

  private head(): Expect | undefined { return this.expect[0]; }

  /** The SQL text the server's next answer is about, when known (mask-errors.ts lets errors quote only from it). */
  private answeringText(): string | undefined {
    const h = this.head();
    switch (h?.t) {
      case 'query': case 'parse': return h.text;
      case 'bind': return this.statements.get(h.statement)?.text;
      case 'execute': return this.portals.get(h.name)?.statement?.text;
      case 'describe': return h.target === 0x53 ? this.statements.get(h.name)?.text : this.portals.get(h.name)?.statement?.text;
      default: return undefined;
    }
  }

  /** Tracks DECLARE (recorded once the server confirmed it) and what ends cursors. */
  private cursorCommand(tag: string): void {
    if (tag.startsWith('CLOSE') || tag.startsWith('ROLLBACK') || tag.startsWith('DISCARD')) { this.cursors.clear(); return; }
    if (!tag.startsWith('DECLARE CURSOR')) return;
    const h = this.head();
    const at = h?.t === 'query' ? { text: h.text, index: this.index } : h?.t === 'execute' ? { text: this.portals.get(h.name)?.statement?.text, index: 0 } : undefined;
    if (at?.text === undefined) return;
    const name = declaredCursorName(at.text, at.index);
    if (name === undefined) return;
    if (this.cursors.size >= MAX_CURSORS) this.cursors.clear();
    this.cursors.set(name, { text: at.text, index: at.index });
  }

  private described(h: Extract<Expect, { t: 'describe' }>, fields: Field[] | undefined): void {
    if (fields === undefined) return;
    if (h.target === 0x53) { const st = this.statements.get(h.name); if (st) { st.fields = fields; st.plans = new Map(); } }
    else { const po = this.portals.get(h.name); if (po) po.fields = fields; }
  }

  private startSimpleResult(frame: Buffer, text: string | undefined): void {
    this.catalog.expire(); // the TTL bound on schema changes made outside the proxy
    if (this.simpleGen !== this.catalog.generation || this.simplePlans.size > 500) { this.simplePlans.clear(); this.simpleGen = this.catalog.generation; }
    // Keyed by the RowDescription; by the statement too only when a column is computed (OID 0),
    // so the same query with other literals reuses its plan.
    const desc = frame.toString('latin1');
    // Text that may write: its RETURNING columns' origins are not the whole truth (mask-plan.ts
    // mayWrite), so its plan is never shared with other statements of the same description.
    const byText = mayWrite(text);
    const uncached = mayFetch(text);
    const first = uncached ? undefined : byText ? BY_TEXT : this.simplePlans.get(desc);
    const second = first === BY_TEXT ? this.simplePlans.get(`${desc}\0${this.index}\0${text ?? ''}`) : first;
    const cached = second === BY_TEXT ? undefined : second;
    let r = this.takeResolved() ?? cached;
    const fields = r === undefined || cached === undefined ? parseRowDescription(frame, 0, frame.length) : undefined;
    if (r === undefined) {
      if (!fields) { this.refuse('a malformed RowDescription'); return; }
      const index = this.index;
      const attempt = this.planner.resolveFields(fields, text, index, this.cursorLookup);
      if ('ok' in attempt) r = attempt;
      else { this.wait(frame, attempt, () => this.planner.resolveFields(fields, text, index, this.cursorLookup)); return; }
    }
    if (cached === undefined && fields && !uncached) {
      if (byText || fields.some((f) => f.tableOid === 0)) {
        if (!byText) this.simplePlans.set(desc, BY_TEXT);
        this.simplePlans.set(`${desc}\0${this.index}\0${text ?? ''}`, r);
      } else {
        this.simplePlans.set(desc, r);
      }
    }
    if (!r.ok) { this.refuse(r.reason); return; }
    this.current = { t: 'rows', plan: r.plan };
    this.emit(frame);
  }

  /** The first DataRow of an Execute: the plan from its portal's (or statement's) description. */
  private startExecute(frame: Buffer): boolean {
    const head = this.head();
    if (head?.t !== 'execute') return true;
    this.catalog.expire();
    const portal = this.portals.get(head.name);
    const st = portal?.statement;
    const fields = portal?.fields ?? (st?.fields ? withFormats(st.fields, portal?.formats ?? []) : undefined);
    if (!fields) {
      if (this.planner.hasColumnRules) { this.refuse('rows of a statement that was never described'); return false; }
      const formats = portal?.formats ?? [];
      const n = frame.readInt16BE(5);
      this.current = { t: 'rows', plan: this.planner.resolveFieldsFormatsOnly(Array.from({ length: n }, (_, i) => formatAt(formats, i))) };
      return true;
    }
    const formatsKey = fields.map((f) => f.format).join(',');
    if (st && st.gen !== this.catalog.generation) { st.plans = new Map(); st.gen = this.catalog.generation; }
    const uncached = mayFetch(st?.text);
    let r = this.takeResolved() ?? (uncached ? undefined : st?.plans?.get(formatsKey));
    if (r === undefined) {
      const attempt = this.planner.resolveFields(fields, st?.text, 0, this.cursorLookup);
      if ('ok' in attempt) r = attempt;
      else { this.wait(frame, attempt, () => this.planner.resolveFields(fields, st?.text, 0, this.cursorLookup)); return false; }
    }
    if (!uncached) st?.plans?.set(formatsKey, r);
    if (!r.ok) { this.refuse(r.reason); return false; }
    this.current = { t: 'rows', plan: r.plan };
    return true;
  }

  private startCopy(frame: Buffer): void {
    this.catalog.expire();
    const head = this.head();
    const text = head?.t === 'query' ? head.text : head?.t === 'execute' ? this.portals.get(head.name)?.statement?.text : undefined;
    const binary = frame[5] === 1;
    const count = frame.readInt16BE(6);
    const format = binary ? 'binary' : copyFormatOf(text);
    let r = this.takeResolved();
    if (r === undefined) {
      const attempt = this.planner.resolveCopy(text, head?.t === 'query' ? this.index : 0, count);
      if (!('ok' in attempt)) {
        const index = this.index;
        this.wait(frame, attempt, () => this.planner.resolveCopy(text, head?.t === 'query' ? index : 0, count));
        return;
      }
      r = attempt;
    }
    if (!r.ok) { this.refuse(r.reason); return; }
    const plan = r.plan;
    if (plan !== null && plan.columns.some((c) => c !== undefined)) {
      if (format === 'binary') { this.refuse('binary COPY of masked columns'); return; }
      if (format === 'unsupported') { this.refuse('COPY options (delimiter, quote, escape, null) the masker does not rewrite'); return; }
    }
    const usable = format !== 'binary' && format !== 'unsupported';
    this.current = { t: 'copy', plan: usable ? plan : null, state: { format, headerPending: format === 'csv-header' || format === 'text-header' } };
    this.emit(frame);
  }

  // ---- waiting for the catalog -----------------------------------------------------------------

  private wait(frame: Buffer, needs: Needs, attempt: () => Resolution | Needs): void {
    this.waiting = true;
    this.held = [Buffer.from(frame)];
    this.flushOut();
    this.host.pause();
    void (async () => {
      let r: Resolution;
      try {
        await loadNeeds(this.catalog, needs);
        r = await resolveWithCatalog(this.catalog, attempt);
      } catch (err) {
        this.host.maskFailed(err);
        r = { ok: false, reason: 'the catalog could not be read to resolve result columns' };
      }
      this.resolved = r;
      this.waiting = false;
      const held = this.held;
      this.held = [];
      for (let k = 0; k < held.length; k++) {
        const f = held[k] as Buffer;
        if (this.waiting) { this.held.push(...held.slice(k)); break; }
        this.handle(f[0] as number, f);
        this.resolved = null; // it was for the first held frame only
      }
      this.flushOut();
      if (!this.waiting) this.host.resume();
    })();
  }

  private takeResolved(): Resolution | undefined {
    const r = this.resolved;
    this.resolved = null;
    return r ?? undefined;
  }

  /** Replaces the result with an error; everything up to ReadyForQuery is dropped. */
  private refuse(reason: string): void {
    this.current = NONE;
    this.refusing = true;
    const fields = refusalFields(reason);
    // The server had the whole string before this result's description came: what follows in
    // it still runs (its results are dropped here). Say so, rather than let it look undone.
    const head = this.head();
    if (head?.t === 'query' && head.text !== undefined && hasLaterStatement(head.text)) fields.H = LATER_STATEMENTS_HINT;
    this.replace(encodeErrorResponse(fields));
    // A refused result ends the extended batch as an error would: skip to Sync.
    while (this.expect.length > 0 && this.head()?.t !== 'sync' && this.head()?.t !== 'query') this.expect.shift();
  }

  // ---- output ----------------------------------------------------------------------------------

  private emit(frame: Buffer): void { this.emitRange(frame, 0, frame.length); }

  /** Passes `buf[start..end)` as is: joined to the run before it when adjacent in memory. */
  private emitRange(buf: Buffer, start: number, end: number): void {
    if (this.writer.pending) this.writer.take(this.out);
    const s = buf.byteOffset + start;
    if (this.runBuf !== null && buf.buffer === this.runBuf.buffer && s === this.runEnd) { this.runEnd = buf.byteOffset + end; return; }
    this.closeRun();
    this.runBuf = buf;
    this.runStart = s;
    this.runEnd = buf.byteOffset + end;
  }

  /** The agent's latest statement texts: a reported setting may hold only what they spell out. */
  private recentTexts: string[] = [];

  private remember(text: string): void {
    // Only column rules scrub reported settings (mask-async.ts); without them nothing reads these.
    if (!this.planner.hasColumnRules) return;
    if (this.recentTexts.length >= 16) this.recentTexts.shift();
    this.recentTexts.push(text);
  }

  /** NOTIFY payloads and reported settings, scrubbed on masked connections (mask-async.ts). */
  private emitAsync(type: number, frame: Buffer): void {
    const planner = this.planner;
    let scrubbed: Buffer | null;
    try {
      scrubbed = type === B.NotificationResponse
        ? scrubNotification(frame, planner.hasColumnRules, planner.detect, this.tally)
        : scrubParameterStatus(frame, planner.hasColumnRules, this.recentTexts);
    } catch (err) {
      this.host.maskFailed(err);
      return; // withheld: neither is needed to continue
    }
    if (scrubbed === null) this.emit(frame); else this.replace(scrubbed);
  }

  /** Errors and notices with the values they may quote masked (mask-errors.ts). */
  private emitScrubbed(frame: Buffer, statement: string | undefined): void {
    const planner = this.planner;
    let scrubbed: Buffer | null;
    try {
      scrubbed = scrubServerMessage(frame, planner.hasColumnRules, planner.detect, this.tally, statement);
    } catch (err) {
      this.host.maskFailed(err);
      scrubbed = encodeErrorResponse({ S: 'ERROR', V: 'ERROR', C: 'XX000', M: 'server message withheld: it could not be masked' }, frame[0]);
    }
    if (scrubbed === null) this.emit(frame); else this.replace(scrubbed);
  }

  private replace(buf: Buffer): void {
    this.closeRun();
    this.writer.take(this.out);
    this.out.push(buf);
  }

  private closeRun(): void {
    const b = this.runBuf;
    if (b === null) return;
    this.out.push(this.runStart === b.byteOffset && this.runEnd === b.byteOffset + b.length ? b : Buffer.from(b.buffer, this.runStart, this.runEnd - this.runStart));
    this.runBuf = null;
  }

  private flushOut(): void {
    this.writer.flushCounts();
    this.closeRun();
    this.writer.take(this.out);
    const out = this.out;
    if (out.length === 0) return;
    this.out = [];
    for (const b of out) this.host.deliver(b);
  }
}

export const LATER_STATEMENTS_HINT = 'statements after this one in the same query string, if any, were still run by the server; their results are withheld too';

/** A `;` with something other than blanks after it: maybe several statements (cheap, may over-report). */
function hasLaterStatement(text: string): boolean {
  const semi = text.indexOf(';');
  return semi >= 0 && text.slice(semi + 1).trim().length > 0;
}

/** CommandComplete `SELECT n`: byte tests, no string made. */
function isSelectTag(frame: Buffer): boolean {
  return frame.length > 12 && frame[5] === 0x53 && frame[6] === 0x45 && frame[7] === 0x4c && frame[8] === 0x45 && frame[9] === 0x43 && frame[10] === 0x54 && frame[11] === 0x20;
}

function formatAt(formats: readonly number[], i: number): number {
  return formats.length === 0 ? 0 : formats.length === 1 ? formats[0] as number : formats[i] ?? 0;
}

function withFormats(fields: readonly Field[], formats: readonly number[]): Field[] {
  return fields.map((f, i) => ({ ...f, format: formatAt(formats, i) }));
}

/** Bind: portal, statement and the result-column format codes (the rest is skipped). */
function parseBind(frame: Buffer): { portal: string; statement: string; formats: number[] } | undefined {
  const n1 = frame.indexOf(0, 5); if (n1 < 0) return undefined;
  const n2 = frame.indexOf(0, n1 + 1); if (n2 < 0) return undefined;
  let pos = n2 + 1;
  const need = (k: number): boolean => pos + k <= frame.length;
  if (!need(2)) return undefined;
  const nf = frame.readInt16BE(pos); pos += 2 + 2 * nf;
  if (!need(2)) return undefined;
  const np = frame.readInt16BE(pos); pos += 2;
  for (let k = 0; k < np; k++) {
    if (!need(4)) return undefined;
    const len = frame.readInt32BE(pos); pos += 4 + Math.max(0, len);
  }
  if (!need(2)) return undefined;
  const nr = frame.readInt16BE(pos); pos += 2;
  if (!need(2 * nr)) return undefined;
  const formats: number[] = [];
  for (let k = 0; k < nr; k++) formats.push(frame.readInt16BE(pos + 2 * k));
  return { portal: frame.toString('utf8', 5, n1), statement: frame.toString('utf8', n1 + 1, n2), formats };
}
