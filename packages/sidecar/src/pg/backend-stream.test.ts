// BackendStream: server bytes are relayed unchanged however they are split, held messages reach
// the tap whole and can be replaced, and injected messages wait for a message boundary.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackendStream } from './backend-stream.js';
import { encodeErrorResponse, encodeReadyForQuery } from './encode.js';

const dataRow = (size: number): Buffer => {
  const b = Buffer.alloc(1 + 4 + 2 + 4 + size, 0x61);
  b[0] = 0x44; b.writeInt32BE(b.length - 1, 1); b.writeInt16BE(1, 5); b.writeInt32BE(size, 7);
  return b;
};
const complete = Buffer.from('C\0\0\0\x0dSELECT 2\0', 'latin1');
const stream = Buffer.concat([dataRow(10), dataRow(70_000), complete, encodeReadyForQuery('I')]);

function relay(chunks: Buffer[], tap: ConstructorParameters<typeof BackendStream>[0]): { out: Buffer; error: string | null } {
  const s = new BackendStream(tap);
  const out: Buffer[] = [];
  for (const c of chunks) { const e = s.push(c, out); if (e) return { out: Buffer.concat(out), error: e.code }; }
  return { out: Buffer.concat(out), error: null };
}

describe('BackendStream', () => {
  it('relays every byte unchanged and reports every message, for every split point', () => {
    for (const cut of [0, 1, 3, 5, 6, 20, 100, 70_020, 70_027, stream.length - 3, stream.length]) {
      const seen: string[] = [];
      const r = relay([stream.subarray(0, cut), stream.subarray(cut)], (type, buf, start, end) => {
        seen.push(`${String.fromCharCode(type)}${buf ? end - start : ''}`);
        if (buf) assert.equal(buf[start], type, 'the range starts at the message type');
        return undefined;
      });
      assert.equal(r.error, null);
      assert.ok(r.out.equals(stream), `cut at ${cut}`);
      assert.deepEqual(seen, ['D', 'D', 'C14', 'Z6'], `cut at ${cut}`);
    }
  });

  it('relays byte by byte', () => {
    const chunks = [...stream.subarray(0, 200)].map((b) => Buffer.from([b]));
    assert.ok(relay(chunks, () => undefined).out.equals(stream.subarray(0, 200)));
  });

  it('replaces a held message wherever it falls in the chunks', () => {
    const error = encodeErrorResponse({ S: 'ERROR', C: '26000', M: 'sentinel' });
    const mine = encodeErrorResponse({ S: 'ERROR', C: '42501', M: 'denied' });
    const input = Buffer.concat([dataRow(5), error, encodeReadyForQuery('E')]);
    for (let cut = 0; cut <= input.length; cut++) {
      const r = relay([input.subarray(0, cut), input.subarray(cut)], (type) => (type === 0x45 ? [mine] : undefined));
      assert.ok(r.out.equals(Buffer.concat([dataRow(5), mine, encodeReadyForQuery('E')])), `cut at ${cut}`);
    }
  });

  it('queues injected messages until the message being streamed is complete', () => {
    const s = new BackendStream(() => undefined);
    const out: Buffer[] = [];
    const row = dataRow(100);
    s.push(row.subarray(0, 50), out);
    assert.equal(s.midMessage, true);
    const notice = encodeErrorResponse({ S: 'ERROR', M: 'x' });
    assert.deepEqual(s.inject([notice]), []);
    s.push(Buffer.concat([row.subarray(50), encodeReadyForQuery('I')]), out);
    assert.ok(Buffer.concat(out).equals(Buffer.concat([row, notice, encodeReadyForQuery('I')])));
    assert.deepEqual(s.inject([notice]), [notice], 'at a boundary injection is immediate');
  });

  it('returns an error value for a length below 4', () => {
    assert.equal(relay([Buffer.from([0x44, 0, 0, 0, 1])], () => undefined).error, '08P01');
  });
});
