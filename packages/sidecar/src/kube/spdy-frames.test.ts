// SPDY/3.1 frames as the SPDY exec tap reads them: split across chunks, header blocks in one
// zlib context with the SPDY dictionary, malformed input stopping the reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createDeflate } from 'node:zlib';
import type { Deflate } from 'node:zlib';
import { SPDY_DICTIONARY } from './spdy-dictionary.js';
import { SpdyFrameReader, SpdyHeaderReader } from './spdy-frames.js';

function block(headers: [string, string][]): Buffer {
  const parts = [u32(headers.length)];
  for (const [n, v] of headers) parts.push(u32(Buffer.byteLength(n)), Buffer.from(n), u32(Buffer.byteLength(v)), Buffer.from(v));
  return Buffer.concat(parts);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

function compress(deflate: Deflate, data: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const on = (c: Buffer) => out.push(c);
    deflate.on('data', on);
    deflate.write(data);
    deflate.flush(constants.Z_SYNC_FLUSH, () => { deflate.off('data', on); resolve(Buffer.concat(out)); });
  });
}

async function synStream(deflate: Deflate, id: number, type: string): Promise<Buffer> {
  const body = Buffer.concat([u32(id), u32(0), Buffer.from([0, 0]), await compress(deflate, block([['streamtype', type], ['port', '80']]))]);
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8003, 0);
  head.writeUInt16BE(1, 2);
  head.writeUIntBE(body.length, 5, 3);
  return Buffer.concat([head, body]);
}

function dataFrame(id: number, data: string, fin = false): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(id, 0);
  head[4] = fin ? 1 : 0;
  head.writeUIntBE(Buffer.byteLength(data), 5, 3);
  return Buffer.concat([head, Buffer.from(data)]);
}

test('stream types come from SYN_STREAM header blocks sharing one zlib context; data frames are read across chunk bounds', async () => {
  const deflate = createDeflate({ dictionary: SPDY_DICTIONARY });
  const wire = Buffer.concat([await synStream(deflate, 1, 'error'), await synStream(deflate, 3, 'stdout'), dataFrame(3, 'hello'), dataFrame(3, '', true)]);
  deflate.close();
  const frames = new SpdyFrameReader();
  const headers = new SpdyHeaderReader();
  const types = new Map<number, string>();
  const data: string[] = [];
  // One byte at a time: frames never depend on how the bytes were chunked.
  for (let i = 0; i < wire.length; i++) {
    for (const f of frames.feed(wire.subarray(i, i + 1))) {
      const syn = headers.synStream(f);
      if (syn) types.set(syn.streamId, syn.headers.get('streamtype') ?? '');
      if (!f.control) data.push(`${types.get(f.streamId)}:${f.data.toString()}:${f.flags}`);
    }
  }
  assert.deepEqual([...types], [[1, 'error'], [3, 'stdout']]);
  assert.deepEqual(data, ['stdout:hello:0', 'stdout::1']);
  assert.equal(frames.broken, undefined);
  assert.equal(headers.broken, undefined);
});

test('not SPDY/3, or a header block that does not inflate: reading stops, saying why', () => {
  const frames = new SpdyFrameReader();
  assert.deepEqual(frames.feed(Buffer.from([0x80, 0x02, 0, 1, 0, 0, 0, 0])), []);
  assert.match(frames.broken ?? '', /SPDY version 2/);
  const headers = new SpdyHeaderReader();
  const bad = { control: true as const, type: 1, flags: 0, data: Buffer.concat([u32(1), u32(0), Buffer.from([0, 0]), Buffer.from('not zlib at all')]) };
  assert.equal(headers.synStream(bad), undefined);
  assert.match(headers.broken ?? '', /header block/);
});
