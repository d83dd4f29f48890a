// HMAC-SHA-256 (RFC 2104, FIPS 180-4) in plain JS for short values: node:crypto's createHmac
// costs microseconds per call in object set-up, too much for one call per masked value. The
// key's padded blocks are compressed once; a value then costs two or three compressions.
// hmac.test.ts checks it against node:crypto.

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
/** Memo slots (a power of two). */
const MEMO_SLOTS = 4096;
/** Longer values are not memoized: the memo must stay small (at most ~MEMO_SLOTS × this). */
const MEMO_MAX_CHARS = 256;
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Two base64url characters for each 12-bit value. */
const B64URL_PAIRS: readonly string[] = Array.from({ length: 4096 }, (_, n) => B64URL[n >>> 6]! + B64URL[n & 63]!);

/** Compresses the 64-byte block at `bytes[off..]` into `state`; `w` is 64 words of scratch. */
function compress(state: Int32Array, w: Int32Array, bytes: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const j = off + i * 4;
    w[i] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15]!;
    const b = w[i - 2]!;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!;
  let e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
  // Two rounds per iteration, the second with the variables' roles shifted, so that only one
  // re-assignment of all eight is left per pair; Ch and Maj in their cheaper equivalent forms.
  for (let i = 0; i < 64; i += 2) {
    let t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + (g ^ (e & (f ^ g))) + K[i]! + w[i]!) | 0;
    let t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) | (c & (a | b)))) | 0;
    h = (d + t1) | 0;
    d = (t1 + t2) | 0;
    t1 = (g + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) + (f ^ (h & (e ^ f))) + K[i + 1]! + w[i + 1]!) | 0;
    t2 = ((((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + ((d & a) | (b & (d | a)))) | 0;
    g = (c + t1) | 0;
    c = (t1 + t2) | 0;
    const na = c, nb = d, nc = a, nd = b, ne = g, nf = h, ng = e, nh = f;
    a = na; b = nb; c = nc; d = nd; e = ne; f = nf; g = ng; h = nh;
  }
  state[0] = (state[0]! + a) | 0; state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0; state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0; state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0; state[7] = (state[7]! + h) | 0;
}

/** A key made ready: the states after its inner and outer padded blocks, and scratch space. */
export class HmacSha256 {
  private readonly inner = new Int32Array(8);
  private readonly outer = new Int32Array(8);
  private readonly state = new Int32Array(8);
  private readonly w = new Int32Array(64);
  private readonly tail = new Uint8Array(128);
  private readonly digest = new Uint8Array(33);
  private buf = new Uint8Array(256);
  /** Direct-mapped memo of recent values and their tokens: joined and grouped values repeat. */
  private readonly memoValues: (string | undefined)[] = new Array<string | undefined>(MEMO_SLOTS);
  private readonly memoTokens: string[] = new Array<string>(MEMO_SLOTS);
  private memoChars = -1;

  constructor(key: Uint8Array) {
    let k = key;
    if (k.length > 64) {
      const h = new HmacSha256(new Uint8Array(0));
      k = h.sha256(k);
    }
    const pad = new Uint8Array(64);
    for (const [state, x] of [[this.inner, 0x36], [this.outer, 0x5c]] as const) {
      for (let i = 0; i < 64; i++) pad[i] = (k[i] ?? 0) ^ x;
      state.set(IV);
      compress(state, this.w, pad, 0);
    }
  }

  /** Plain SHA-256 (for keys longer than a block). */
  private sha256(data: Uint8Array): Uint8Array {
    this.state.set(IV);
    this.finish(data, data.length, 0);
    return this.digestBytes().slice(0, 32);
  }

  /** base64url, through a memo of the last values seen (one slot per value's hash). */
  memoized(value: string, chars: number): string {
    if (chars !== this.memoChars) {
      this.memoValues.fill(undefined);
      this.memoChars = chars;
    }
    if (value.length > MEMO_MAX_CHARS) return this.base64url(value, chars);
    let h = value.length;
    const n = Math.min(value.length, 32);
    for (let i = 0; i < n; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193);
    if (value.length > n) h = Math.imul(h ^ value.charCodeAt(value.length - 1), 0x01000193);
    const slot = (h ^ (h >>> 15)) & (MEMO_SLOTS - 1);
    if (this.memoValues[slot] === value) return this.memoTokens[slot]!;
    const token = this.base64url(value, chars);
    this.memoValues[slot] = value;
    this.memoTokens[slot] = token;
    return token;
  }

  /** The first `chars` base64url characters (at most 43) of HMAC(key, UTF-8 of value). */
  base64url(value: string, chars: number): string {
    const len = this.encode(value);
    this.state.set(this.inner);
    this.finish(this.buf, len, 64);
    // The outer message is the inner digest: one block, written straight from the state.
    const tail = this.tail;
    tail.fill(0, 32, 64);
    for (let i = 0; i < 8; i++) {
      const v = this.state[i]!;
      tail[i * 4] = v >>> 24; tail[i * 4 + 1] = v >>> 16; tail[i * 4 + 2] = v >>> 8; tail[i * 4 + 3] = v;
    }
    tail[32] = 0x80;
    tail[62] = ((64 + 32) * 8) >>> 8;
    tail[63] = ((64 + 32) * 8) & 255;
    this.state.set(this.outer);
    compress(this.state, this.w, tail, 0);
    const d = this.digestBytes();
    let out = '';
    for (let i = 0; out.length < chars; i += 3) {
      const n = (d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!;
      out += B64URL_PAIRS[n >>> 12]! + B64URL_PAIRS[n & 4095]!;
    }
    return out.length === chars ? out : out.slice(0, chars);
  }

  /** Hashes `data[0..len]` on top of `this.state`, `prefix` bytes already compressed. */
  private finish(data: Uint8Array, len: number, prefix: number): void {
    let off = 0;
    for (; off + 64 <= len; off += 64) compress(this.state, this.w, data, off);
    const tail = this.tail;
    const rest = len - off;
    for (let i = 0; i < rest; i++) tail[i] = data[off + i]!;
    tail.fill(0, rest);
    tail[rest] = 0x80;
    const blocks = rest + 9 > 64 ? 2 : 1;
    const bits = (prefix + len) * 8;
    const end = blocks * 64;
    tail[end - 4] = (bits >>> 24) & 255;
    tail[end - 3] = (bits >>> 16) & 255;
    tail[end - 2] = (bits >>> 8) & 255;
    tail[end - 1] = bits & 255;
    tail[end - 5] = Math.floor(bits / 2 ** 32) & 255;
    compress(this.state, this.w, tail, 0);
    if (blocks === 2) compress(this.state, this.w, tail, 64);
  }

  /** The state as digest bytes, into a buffer reused by the next call (a zero byte after). */
  private digestBytes(): Uint8Array {
    const out = this.digest;
    for (let i = 0; i < 8; i++) {
      const v = this.state[i]!;
      out[i * 4] = v >>> 24; out[i * 4 + 1] = (v >>> 16) & 255; out[i * 4 + 2] = (v >>> 8) & 255; out[i * 4 + 3] = v & 255;
    }
    return out;
  }

  /** UTF-8 of `value` into `buf` (lone surrogates as U+FFFD, as Buffer.from does); its length. */
  private encode(value: string): number {
    if (this.buf.length < value.length * 3) this.buf = new Uint8Array(value.length * 3);
    const b = this.buf;
    let n = 0;
    for (let i = 0; i < value.length; i++) {
      let c = value.charCodeAt(i);
      if (c < 0x80) { b[n++] = c; continue; }
      if (c < 0x800) { b[n++] = 0xc0 | (c >> 6); b[n++] = 0x80 | (c & 63); continue; }
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = value.charCodeAt(i + 1);
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          b[n++] = 0xf0 | (c >> 18); b[n++] = 0x80 | ((c >> 12) & 63); b[n++] = 0x80 | ((c >> 6) & 63); b[n++] = 0x80 | (c & 63);
          continue;
        }
        c = 0xfffd;
      }
      b[n++] = 0xe0 | (c >> 12); b[n++] = 0x80 | ((c >> 6) & 63); b[n++] = 0x80 | (c & 63);
    }
    return n;
  }
}
