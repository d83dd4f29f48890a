// Codec tests over byte fixtures: framing (whole, split, malformed, oversized) and one decode per
// message type, plus encode/decode round trips for what the proxy writes itself.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Framer, decodeBackend, decodeFrontend, decodeStartup, rowsFromTag } from './codec.js';
import {
  AUTHENTICATION_OK, SSL_REQUEST, encodeBackendKeyData, encodeBind, encodeCancelRequest, encodeErrorResponse, encodeExecute,
  encodeParameterStatus, encodeParse, encodeQuery, encodeReadyForQuery, encodeStartupMessage,
} from './encode.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function frames(framer: Framer, chunks: Buffer[]): { frames: string[]; error?: string } {
  const out: string[] = [];
  for (const c of chunks) {
    const error = framer.push(c, (type, frame) => { out.push(`${type}:${frame.toString('hex')}`); });
    if (error) return { frames: out, error: error.code };
  }
  return { frames: out };
}

describe('Framer', () => {
  const q = encodeQuery('select 1'); // 51 0000000d 73656c6563742031 00
  it('hands on whole frames only, however the bytes are split', () => {
    const both = Buffer.concat([q, q]);
    for (let cut = 0; cut <= both.length; cut++) {
      const r = frames(new Framer({ startup: false }), [both.subarray(0, cut), both.subarray(cut)]);
      assert.deepEqual(r.frames, [`81:${q.toString('hex')}`, `81:${q.toString('hex')}`], `cut at ${cut}`);
    }
  });

  it('joins a large frame arriving byte chunk by chunk', () => {
    const big = encodeQuery('x'.repeat(100_000));
    const chunks: Buffer[] = [];
    for (let i = 0; i < big.length; i += 1000) chunks.push(big.subarray(i, i + 1000));
    const framer = new Framer({ startup: false });
    let got: Buffer | null = null;
    for (const c of chunks) assert.equal(framer.push(c, (_t, f) => { got = Buffer.from(f); }), null);
    assert.deepEqual(got, big);
  });

  it('reads startup packets until the StartupMessage, then typed messages', () => {
    const startup = encodeStartupMessage({ user: 'a' });
    const r = frames(new Framer({ startup: true }), [Buffer.concat([SSL_REQUEST, startup, q])]);
    assert.deepEqual(r.frames.map((f) => f.split(':')[0]), ['0', '0', '81']);
  });

  for (const [what, startup, bytes] of [
    ['a typed length below 4', false, hex('51 00000003')],
    ['a negative typed length', false, hex('51 ffffffff')],
    ['a typed length over 1 GiB', false, hex('51 40000000')],
    ['a startup length below 8', true, hex('00000004')],
    ['a startup length over 10 000', true, hex('00002711 00030000')],
  ] as const) {
    it(`returns an error value for ${what}`, () => {
      const framer = new Framer({ startup });
      assert.equal(frames(framer, [bytes]).error, '08P01');
      assert.equal(frames(framer, [q]).error, '08P01', 'a failed framer stays failed');
    });
  }

  it('applies a configured maximum message length', () => {
    assert.equal(frames(new Framer({ startup: false, maxMessageLength: 8 }), [q]).error, '08P01');
  });
});

describe('decodeStartup', () => {
  it('decodes StartupMessage parameters', () => {
    const r = decodeStartup(hex('00000025 00030000 75736572 00 616c696365 00 6170706c69636174696f6e5f6e616d65 00 6100 00'));
    assert.deepEqual(r, { ok: true, msg: { dir: 'F', type: 'StartupMessage', major: 3, minor: 0, params: Object.assign(Object.create(null), { user: 'alice', application_name: 'a' }) } });
  });
  it('decodes SSLRequest, GSSENCRequest and CancelRequest', () => {
    assert.deepEqual(decodeStartup(hex('00000008 04d2162f')), { ok: true, msg: { dir: 'F', type: 'SSLRequest' } });
    assert.deepEqual(decodeStartup(hex('00000008 04d21630')), { ok: true, msg: { dir: 'F', type: 'GSSENCRequest' } });
    assert.deepEqual(decodeStartup(encodeCancelRequest(1234, -5)), { ok: true, msg: { dir: 'F', type: 'CancelRequest', pid: 1234, secret: -5 } });
  });
  it('refuses protocol 2 and unterminated parameter lists', () => {
    assert.equal(decodeStartup(hex('00000008 00020000')).ok, false);
    assert.equal(decodeStartup(hex('0000000d 00030000 7573657200')).ok, false);
  });
});

describe('decodeFrontend', () => {
  const table: [string, Buffer, unknown][] = [
    ['Query', encodeQuery('select 1'), { dir: 'F', type: 'Query', text: 'select 1' }],
    ['Parse', encodeParse('s1', 'select $1', [23]), { dir: 'F', type: 'Parse', name: 's1', text: 'select $1', paramTypes: [23] }],
    ['Bind', encodeBind('p', 's1'), { dir: 'F', type: 'Bind', portal: 'p', statement: 's1' }],
    ['Execute', encodeExecute('p', 10), { dir: 'F', type: 'Execute', portal: 'p', maxRows: 10 }],
    ['Describe', hex('44 00000007 53 733100'), { dir: 'F', type: 'Describe', target: 'S', name: 's1' }],
    ['Close', hex('43 00000006 50 7000'), { dir: 'F', type: 'Close', target: 'P', name: 'p' }],
    ['Sync', hex('53 00000004'), { dir: 'F', type: 'Sync' }],
    ['Flush', hex('48 00000004'), { dir: 'F', type: 'Flush' }],
    ['Terminate', hex('58 00000004'), { dir: 'F', type: 'Terminate' }],
    ['CopyData', hex('64 00000007 616263'), { dir: 'F', type: 'CopyData', length: 3 }],
    ['CopyDone', hex('63 00000004'), { dir: 'F', type: 'CopyDone' }],
    ['CopyFail', hex('66 00000007 6e6f00'), { dir: 'F', type: 'CopyFail', message: 'no' }],
    ['FunctionCall', hex('46 0000000e 00000001 0000 0000 0000'), { dir: 'F', type: 'FunctionCall', oid: 1 }],
  ];
  for (const [name, bytes, msg] of table) {
    it(`decodes ${name}`, () => { assert.deepEqual(decodeFrontend(bytes), { ok: true, msg }); });
  }
  for (const [what, bytes] of [
    ['an unknown type', hex('7a 00000004')],
    ['a Query without NUL', hex('51 00000006 6162')],
    ['a Query with trailing bytes', hex('51 00000007 610062')],
    ['a Parse cut short in its parameter types', hex('50 0000000a 00 6100 0002 0000')],
    ['an Execute without its row limit', hex('45 00000005 00')],
  ] as const) {
    it(`returns an error value for ${what}`, () => {
      const r = decodeFrontend(bytes);
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.error.code, '08P01');
    });
  }
});

describe('decodeBackend', () => {
  const table: [string, Buffer, unknown][] = [
    ['AuthenticationOk', AUTHENTICATION_OK, { type: 'Authentication', request: { method: 'ok' } }],
    ['AuthenticationCleartextPassword', hex('52 00000008 00000003'), { type: 'Authentication', request: { method: 'cleartext' } }],
    ['AuthenticationMD5Password', hex('52 0000000c 00000005 01020304'), { type: 'Authentication', request: { method: 'md5', salt: hex('01020304') } }],
    ['AuthenticationSASL', Buffer.concat([hex('52 0000002a 0000000a'), Buffer.from('SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0')]),
      { type: 'Authentication', request: { method: 'sasl', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] } }],
    ['AuthenticationSASLContinue', Buffer.concat([hex('52 0000000b 0000000b'), Buffer.from('r=x')]), { type: 'Authentication', request: { method: 'sasl-continue', data: 'r=x' } }],
    ['AuthenticationGSS', hex('52 00000008 00000007'), { type: 'Authentication', request: { method: 'unsupported', code: 7 } }],
    ['ParameterStatus', encodeParameterStatus('TimeZone', 'UTC'), { type: 'ParameterStatus', name: 'TimeZone', value: 'UTC' }],
    ['BackendKeyData', encodeBackendKeyData(42, -7), { type: 'BackendKeyData', pid: 42, secret: -7 }],
    ['ReadyForQuery', encodeReadyForQuery('T'), { type: 'ReadyForQuery', status: 'T' }],
    ['ErrorResponse', encodeErrorResponse({ S: 'ERROR', C: '42501', M: 'no' }), { type: 'ErrorResponse', fields: { S: 'ERROR', C: '42501', M: 'no' } }],
    ['NoticeResponse', encodeErrorResponse({ S: 'NOTICE', M: 'hi' }, 0x4e), { type: 'NoticeResponse', fields: { S: 'NOTICE', M: 'hi' } }],
    ['CommandComplete', hex('43 0000000d 53454c45435420313000'), { type: 'CommandComplete', tag: 'SELECT 10' }],
    ['RowDescription', hex('54 00000006 0002'), { type: 'RowDescription', columns: 2 }],
    ['DataRow', hex('44 0000000b 0001 00000001 61'), { type: 'DataRow', columns: 1 }],
    ['CopyInResponse', hex('47 00000009 00 0001 0000'), { type: 'CopyResponse', direction: 'in', columns: 1 }],
    ['CopyOutResponse', hex('48 00000007 00 0000'), { type: 'CopyResponse', direction: 'out', columns: 0 }],
    ['ParseComplete (passed through)', hex('31 00000004'), { type: 'Other', code: 0x31 }],
  ];
  for (const [name, bytes, msg] of table) {
    it(`decodes ${name}`, () => {
      const r = decodeBackend(bytes);
      assert.ok(r.ok);
      assert.deepEqual({ ...r.msg, dir: undefined, ...(r.msg.type === 'ErrorResponse' || r.msg.type === 'NoticeResponse' ? { fields: { ...r.msg.fields } } : {}) }, { dir: undefined, ...(msg as object) });
    });
  }
  it('returns an error value for malformed ErrorResponse and ReadyForQuery', () => {
    assert.equal(decodeBackend(hex('45 00000007 4d 6162')).ok, false);
    assert.equal(decodeBackend(hex('5a 00000005 58')).ok, false);
  });
});

describe('rowsFromTag', () => {
  for (const [tag, rows] of [['SELECT 5', 5], ['INSERT 0 7', 7], ['UPDATE 0', 0], ['COPY 3', 3], ['CREATE TABLE', undefined], ['BEGIN', undefined]] as const) {
    it(`reads ${String(rows)} from "${tag}"`, () => assert.equal(rowsFromTag(tag), rows));
  }
});
