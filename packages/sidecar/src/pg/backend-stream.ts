// Streaming scanner for server → agent bytes: relays chunks as they come (DataRows of any size are
// never buffered) while tracking message boundaries, and withholds only the few small messages the
// session inspects or may replace (ErrorResponse, ReadyForQuery, CommandComplete, ...). Pushed
// chunks may be reused by the caller once push() returns: what is withheld across chunks is copied.
import { B } from './messages.js';
import type { ProtocolError } from './messages.js';

/** Messages withheld until whole and handed to the tap; everything else streams through. */
const HELD = new Uint8Array(256);
for (const t of [B.ErrorResponse, B.ReadyForQuery, B.CommandComplete, B.EmptyQueryResponse, B.PortalSuspended,
  B.CopyInResponse, B.CopyOutResponse, B.CopyBothResponse]) HELD[t] = 1;

/** Larger "small" messages than this are a protocol violation (PostgreSQL never sends them). */
const MAX_HELD_LENGTH = 64 * 1024 * 1024;

/**
 * Called once per backend message. For held types the whole message is `buf[start..end)` (no
 * Buffer made per message: usually a range of the pushed chunk, valid during the call only) and
 * the tap may return the buffers to send instead of it; for streamed types `buf` is null (type only).
 */
export type BackendTap = (type: number, buf: Buffer | null, start: number, end: number) => Buffer[] | undefined;

export class BackendStream {
  private readonly header = Buffer.allocUnsafe(5);
  private headerFill = 0;
  /** Body bytes of a streamed message still to pass. */
  private skip = 0;
  private held: Buffer[] | null = null;
  private heldNeed = 0;
  private heldFill = 0;
  /** Proxy-made messages waiting for the end of the message currently streaming to the agent. */
  private queued: Buffer[] = [];

  constructor(private readonly tap: BackendTap) {}

  /** True while part of a message has been relayed and the rest is still to come. */
  get midMessage(): boolean { return this.skip > 0; }

  /**
   * Proxy-made messages for the agent: returned for writing now when the agent's stream is at a
   * message boundary, else queued behind the message in flight (and an empty array returned).
   */
  inject(messages: Buffer[]): Buffer[] {
    if (this.skip === 0) return messages;
    for (const m of messages) this.queued.push(m);
    return [];
  }

  /** Scans one chunk and appends what to write to the agent to `out`. */
  push(chunk: Buffer, out: Buffer[]): ProtocolError | null {
    const n = chunk.length;
    let i = 0;
    let run = 0; // start of the bytes to forward unchanged
    while (i < n) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, n - i);
        i += k; this.skip -= k;
        if (this.skip === 0 && this.queued.length > 0) {
          if (i > run) out.push(chunk.subarray(run, i));
          for (const q of this.queued) out.push(q);
          this.queued = [];
          run = i;
        }
        continue;
      }
      if (this.held) {
        const k = Math.min(this.heldNeed - this.heldFill, n - i);
        this.held.push(Buffer.from(chunk.subarray(i, i + k)));
        this.heldFill += k; i += k; run = i;
        if (this.heldFill === this.heldNeed) {
          const frame = Buffer.concat(this.held, this.heldNeed);
          this.held = null;
          this.emitHeld(frame, out);
        }
        continue;
      }
      if (this.headerFill === 0 && n - i >= 5) {
        const type = chunk[i] as number;
        const len = chunk.readInt32BE(i + 1);
        const error = checkLength(type, len);
        if (error) return error;
        const total = len + 1;
        if (HELD[type] === 1) {
          if (n - i >= total) {
            const replacement = this.tap(type, chunk, i, i + total);
            if (replacement) {
              if (i > run) out.push(chunk.subarray(run, i));
              for (const r of replacement) out.push(r);
              run = i + total;
            }
            i += total;
            continue;
          }
          if (i > run) out.push(chunk.subarray(run, i));
          this.held = [Buffer.from(chunk.subarray(i))];
          this.heldNeed = total; this.heldFill = n - i;
          i = n; run = n;
          continue;
        }
        this.tap(type, null, 0, 0);
        i += 5; this.skip = len - 4;
        continue;
      }
      // A header split across chunks: withhold its bytes until the type and length are known.
      const k = Math.min(5 - this.headerFill, n - i);
      if (i > run) out.push(chunk.subarray(run, i));
      chunk.copy(this.header, this.headerFill, i, i + k);
      this.headerFill += k; i += k; run = i;
      if (this.headerFill < 5) continue;
      this.headerFill = 0;
      const type = this.header[0] as number;
      const len = this.header.readInt32BE(1);
      const error = checkLength(type, len);
      if (error) return error;
      const header = Buffer.from(this.header);
      if (HELD[type] === 1) {
        this.held = [header]; this.heldNeed = len + 1; this.heldFill = 5;
        if (len === 4) { this.held = null; this.emitHeld(header, out); }
        continue;
      }
      this.tap(type, null, 0, 0);
      out.push(header);
      this.skip = len - 4;
    }
    if (n > run) out.push(run === 0 ? chunk : chunk.subarray(run, n));
    return null;
  }

  private emitHeld(frame: Buffer, out: Buffer[]): void {
    const replacement = this.tap(frame[0] as number, frame, 0, frame.length);
    if (replacement) for (const r of replacement) out.push(r);
    else out.push(frame);
  }
}

function checkLength(type: number, len: number): ProtocolError | null {
  if (len < 4) return { code: '08P01', message: `invalid backend message length ${len}` };
  if (HELD[type] === 1 && len > MAX_HELD_LENGTH) return { code: '08P01', message: `backend message too long (${len})` };
  return null;
}
