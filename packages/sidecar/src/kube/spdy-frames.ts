// Reads SPDY/3.1 frames as they pass the relay, to record the streams of a SPDY exec: the
// client's SYN_STREAM header blocks (zlib with the SPDY dictionary, one compression context per
// direction) name each stream's `streamtype`; data frames are not compressed. Read-only: the
// bytes themselves pass unchanged. Malformed input stops the reading, never the relay.
import { constants, inflateSync } from 'node:zlib';
import { SPDY_DICTIONARY } from './spdy-dictionary.js';

export type SpdyFrame =
  | { control: true; type: number; flags: number; data: Buffer }
  | { control: false; streamId: number; flags: number; data: Buffer };

const SYN_STREAM = 1;
/** A header block total past this stops the reading (kubectl sends a few hundred bytes). */
const MAX_HEADER_BYTES = 256 * 1024;
/** The largest frame SPDY can carry (24-bit length). */
const MAX_FRAME = 0xffffff;

/** Splits a byte stream into frames; `broken` once it saw something that is not SPDY/3. */
export class SpdyFrameReader {
  private pending: Buffer = Buffer.alloc(0);
  broken: string | undefined;

  feed(chunk: Buffer): SpdyFrame[] {
    if (this.broken !== undefined) return [];
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: SpdyFrame[] = [];
    while (this.pending.length >= 8) {
      const length = this.pending.readUIntBE(5, 3);
      if (length > MAX_FRAME || this.pending.length < 8 + length) break;
      const flags = this.pending[4]!;
      const data = this.pending.subarray(8, 8 + length);
      if ((this.pending[0]! & 0x80) !== 0) {
        const version = this.pending.readUInt16BE(0) & 0x7fff;
        if (version !== 3) {
          this.broken = `SPDY version ${version}`;
          return frames;
        }
        frames.push({ control: true, type: this.pending.readUInt16BE(2), flags, data });
      } else {
        frames.push({ control: false, streamId: this.pending.readUInt32BE(0) & 0x7fffffff, flags, data });
      }
      this.pending = this.pending.subarray(8 + length);
    }
    return frames;
  }
}

/**
 * The header blocks of one direction. They share one zlib context, so each is read by
 * inflating every block so far (sync flush) and keeping the new output: quadratic, but a
 * connection carries a handful of them.
 */
export class SpdyHeaderReader {
  private readonly blocks: Buffer[] = [];
  private size = 0;
  private seen = 0;
  broken: string | undefined;

  /** A SYN_STREAM frame's stream id and headers, or undefined for another frame or a bad block. */
  synStream(frame: SpdyFrame): { streamId: number; headers: Map<string, string> } | undefined {
    if (!frame.control || frame.type !== SYN_STREAM || frame.data.length < 10 || this.broken !== undefined) return undefined;
    const streamId = frame.data.readUInt32BE(0) & 0x7fffffff;
    const block = frame.data.subarray(10);
    this.size += block.length;
    if (this.size > MAX_HEADER_BYTES) {
      this.broken = 'header blocks too large to follow';
      return undefined;
    }
    this.blocks.push(Buffer.from(block));
    let out: Buffer;
    try {
      out = inflateSync(Buffer.concat(this.blocks), { dictionary: SPDY_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH });
    } catch (err) {
      this.broken = `header block: ${(err as Error).message}`;
      return undefined;
    }
    const fresh = out.subarray(this.seen);
    this.seen = out.length;
    const headers = parseHeaderBlock(fresh);
    if (!headers) {
      this.broken = 'malformed header block';
      return undefined;
    }
    return { streamId, headers };
  }
}

/** count(32) then count × (name length(32), name, value length(32), value). */
function parseHeaderBlock(b: Buffer): Map<string, string> | undefined {
  if (b.length < 4) return undefined;
  const headers = new Map<string, string>();
  const count = b.readUInt32BE(0);
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > b.length) return undefined;
    const nameLength = b.readUInt32BE(at);
    at += 4;
    if (at + nameLength + 4 > b.length) return undefined;
    const name = b.toString('utf8', at, at + nameLength);
    at += nameLength;
    const valueLength = b.readUInt32BE(at);
    at += 4;
    if (at + valueLength > b.length) return undefined;
    // Several values of one name are NUL-separated; the stream type has one.
    headers.set(name.toLowerCase(), b.toString('utf8', at, at + valueLength));
    at += valueLength;
  }
  return headers;
}
