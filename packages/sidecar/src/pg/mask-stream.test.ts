// The masking stage on captured-shape bytes: DataRow rewriting (text, binary, NULL, jsonb, malformed),
// COPY rows (text, CSV), and the stream (any chunking gives the same bytes, a DataRow larger than a
// chunk, refusal in place ending at ReadyForQuery, a result held in order while the catalog is asked).
// The catalog is seeded in memory; the one asked for real points at a closed port (nothing runs).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Catalog } from './catalog.js';
import { encodeQuery, encodeReadyForQuery } from './encode.js';
import { rewriteCopyRow } from './mask-copy.js';
import { NO_LINEAGE } from './mask-lineage.js';
import { MaskPlanner } from './mask-plan.js';
import type { MaskPolicy, RuleMask } from './mask-plan.js';
import { Enc, encodingOf, rewriteDataRow, RowWriter } from './mask-rows.js';
import type { ColumnMask, RowPlan } from './mask-rows.js';
import { MaskStream } from './mask-stream.js';

const REDACT: ColumnMask = { rule: 'r', text: () => '[MASKED]', constant: '[MASKED]' };
const PARTIAL: ColumnMask = { rule: 'p', text: (v) => '*'.repeat(Math.max(0, v.length - 2)) + v.slice(-2), partialKeep: 2 };
const NULLED: ColumnMask = { rule: 'n', text: () => null, constant: null };
const UPPER: ColumnMask = { rule: 'u', text: (v) => v.toUpperCase() };
const noTally = { column(): void {}, detector(): void {} };

function msg(type: number, body: Buffer): Buffer {
  const b = Buffer.alloc(5 + body.length);
  b[0] = type; b.writeInt32BE(4 + body.length, 1); body.copy(b, 5);
  return b;
}
function dataRow(vals: (string | Buffer | null)[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, vals.length])];
  for (const v of vals) {
    const l = Buffer.alloc(4);
    if (v === null) { l.writeInt32BE(-1); parts.push(l); continue; }
    const b = typeof v === 'string' ? Buffer.from(v) : v;
    l.writeInt32BE(b.length); parts.push(l, b);
  }
  return msg(0x44, Buffer.concat(parts));
}
function values(row: Buffer): (string | null)[] {
  const n = row.readInt16BE(5);
  const out: (string | null)[] = [];
  let pos = 7;
  for (let i = 0; i < n; i++) {
    const len = row.readInt32BE(pos); pos += 4;
    out.push(len < 0 ? null : row.toString('utf8', pos, pos + len)); if (len > 0) pos += len;
  }
  assert.equal(pos, row.length);
  assert.equal(row.readInt32BE(1), row.length - 1);
  return out;
}
function rewrite(row: Buffer, plan: RowPlan): Buffer | false | undefined {
  const w = new RowWriter(32);
  const out: Buffer[] = [];
  const r = rewriteDataRow(row, 0, row.length, plan, noTally, w, out);
  if (r !== true) return r;
  w.take(out);
  return Buffer.concat(out);
}

describe('rewriteDataRow', () => {
  it('masks text values by strategy, keeps NULLs and the other columns', () => {
    const plan: RowPlan = { columns: [undefined, REDACT, PARTIAL, NULLED, UPPER], enc: [Enc.Text, Enc.Text, Enc.Text, Enc.Text, Enc.Text], detect: undefined };
    const out = rewrite(dataRow(['1', 'ann@example.com', '4111', 'secret', 'ünï']), plan);
    assert.ok(out);
    assert.deepEqual(values(out), ['1', '[MASKED]', '**11', null, 'ÜNÏ']);
    const nulls = rewrite(dataRow(['2', null, null, null, null]), plan);
    assert.equal(nulls, false);
  });

  it('json values become JSON strings; binary text is rewritten, jsonb keeps its version byte, other binary types become NULL', () => {
    const plan: RowPlan = { columns: [REDACT, REDACT, REDACT, REDACT], enc: [Enc.TextJson, Enc.BinText, Enc.BinJsonb, Enc.BinOther], detect: undefined };
    const out = rewrite(dataRow(['{"a":1}', 'x', Buffer.from('\x01{"a":1}'), Buffer.from([0, 0, 0, 7])]), plan);
    assert.ok(out);
    assert.deepEqual(values(out), ['"[MASKED]"', '[MASKED]', '\x01"[MASKED]"', null]);
  });

  it('runs detectors over text values only, after column masks', () => {
    const detect = (v: string) => (v.includes('@') ? { text: v.replace(/\S+@\S+/, '[MASKED]'), hits: [{ rule: 'd', detector: 'email' }] } : undefined);
    const plan: RowPlan = { columns: [undefined, undefined, PARTIAL], enc: [Enc.Text, Enc.BinOther, Enc.Text], detect };
    const out = rewrite(dataRow(['mail bob@example.com now', Buffer.from('a@b.com'), 'x@y.com']), plan);
    assert.ok(out);
    assert.deepEqual(values(out), ['mail [MASKED] now', 'a@b.com', '*****om']);
  });

  it('detectors skip fixed-shape types (timestamps, int4, uuid); int8, numeric and text keep them; column rules mask all', () => {
    assert.equal(encodingOf(1184, 0), Enc.TextFixed);
    assert.equal(encodingOf(2950, 0), Enc.TextFixed);
    assert.equal(encodingOf(20, 0), Enc.Text);
    assert.equal(encodingOf(1700, 0), Enc.Text);
    const seen: string[] = [];
    const detect = (v: string) => { seen.push(v); return undefined; };
    const plan: RowPlan = { columns: [undefined, undefined, REDACT], enc: [Enc.TextFixed, Enc.Text, Enc.TextFixed], detect };
    const out = rewrite(dataRow(['2024-01-01 10:00:00+00', '4111111111111111', '2024-01-02 10:00:00+00']), plan);
    assert.ok(out);
    assert.deepEqual(values(out), ['2024-01-01 10:00:00+00', '4111111111111111', '[MASKED]']);
    assert.deepEqual(seen, ['4111111111111111']);
  });

  it('reports a malformed row (a length past the end) instead of reading beyond it', () => {
    const row = dataRow(['abc']);
    row.writeInt32BE(99, 7);
    assert.equal(rewrite(row, { columns: [REDACT], enc: [Enc.Text], detect: undefined }), undefined);
  });
});

describe('rewriteCopyRow', () => {
  const plan: RowPlan = { columns: [undefined, REDACT, PARTIAL], enc: [Enc.Text, Enc.Text, Enc.Text], detect: undefined };
  const copy = (line: string): Buffer => msg(0x64, Buffer.from(line));
  it('text format: tabs, \\N and backslash escapes', () => {
    const out = rewriteCopyRow(copy('1\ta\\tb@x.com\t4111\n'), plan, { format: 'text', headerPending: false }, noTally);
    assert.equal(out?.toString('utf8', 5), '1\t[MASKED]\t**11\n');
    assert.equal(rewriteCopyRow(copy('1\t\\N\t\\N\n'), plan, { format: 'text', headerPending: false }, noTally), null);
  });
  it('CSV with quotes and a header line', () => {
    const state = { format: 'csv-header' as const, headerPending: true };
    assert.equal(rewriteCopyRow(copy('id,email,card\n'), plan, state, noTally), null);
    const out = rewriteCopyRow(copy('1,"a,b@x.com","41""11"\n'), plan, state, noTally);
    assert.equal(out?.toString('utf8', 5), '1,[MASKED],***11\n');
  });
  it('a row that does not split into the plan\'s columns is refused', () => {
    assert.equal(rewriteCopyRow(copy('1\t2\n'), plan, { format: 'text', headerPending: false }, noTally), undefined);
  });
});

/** A table t(id, email) with OID 1000, email masked by `r`. */
function setup(seed = true): { stream: MaskStream; out: Buffer[]; paused: () => boolean; resumed: Promise<void> } {
  const catalog = new Catalog(() => ({ target: { host: '127.0.0.1', port: 1, database: 'x', sslmode: 'disable' }, credential: { username: 'u', password: 'p' } }));
  if (seed) catalog.seed({ oid: 1000, schema: 'public', name: 't', kind: 'r', columns: new Map([[1, 'id'], [2, 'email']]) });
  const rule: RuleMask = { rule: 'r', strength: 3, direct: REDACT, derived: REDACT };
  const policy: MaskPolicy = { hasColumnRules: true, column: (_s, t, c) => (t === 't' && c === 'email' ? rule : undefined), detect: undefined };
  const planner = new MaskPlanner(policy, catalog, NO_LINEAGE.forCatalog(catalog));
  const out: Buffer[] = [];
  let isPaused = false;
  let resume!: () => void;
  const resumed = new Promise<void>((r) => { resume = r; });
  const stream = new MaskStream({
    deliver: (b) => { out.push(Buffer.from(b)); },
    pause: () => { isPaused = true; },
    resume: () => { isPaused = false; resume(); },
    maskFailed: () => undefined,
  }, () => planner, catalog, noTally);
  return { stream, out, paused: () => isPaused, resumed };
}
function rowDescription(oid: number, attnums: number[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, attnums.length])];
  for (const a of attnums) {
    const f = Buffer.alloc(18);
    f.writeUInt32BE(oid, 0); f.writeInt16BE(a, 4); f.writeUInt32BE(25, 6); f.writeInt16BE(-1, 10);
    parts.push(Buffer.from(`c${a}\0`), f);
  }
  return msg(0x54, Buffer.concat(parts));
}
const complete = (tag: string): Buffer => msg(0x43, Buffer.from(`${tag}\0`));

describe('MaskStream', () => {
  const big = 'x'.repeat(200_000);
  const result = Buffer.concat([
    rowDescription(1000, [1, 2]),
    dataRow(['1', 'ann@example.com']), dataRow(['2', null]), dataRow([big, 'bob@example.com']),
    complete('SELECT 3'), encodeReadyForQuery('I'),
  ]);

  it('gives the same bytes whatever the chunking, a row larger than a chunk included', () => {
    const whole = setup();
    whole.stream.frontend(encodeQuery('select * from t'));
    whole.stream.push(result);
    const expected = Buffer.concat(whole.out);
    for (const size of [1, 7, 4096]) {
      const s = setup();
      s.stream.frontend(encodeQuery('select * from t'));
      for (let i = 0; i < result.length; i += size) s.stream.push(result.subarray(i, i + size));
      assert.deepEqual(Buffer.concat(s.out), expected, `chunks of ${size}`);
    }
    const rows = [] as (string | null)[][];
    let pos = 0;
    while (pos < expected.length) {
      const len = expected.readInt32BE(pos + 1);
      if (expected[pos] === 0x44) rows.push(values(expected.subarray(pos, pos + len + 1)));
      pos += len + 1;
    }
    assert.deepEqual(rows.map((r) => r[1]), ['[MASKED]', null, '[MASKED]']);
    assert.equal(rows[2]?.[0], big);
  });

  it('refuses a result it cannot trace in place, drops the rest, and reports a failed transaction', () => {
    const s = setup();
    s.stream.frontend(encodeQuery('select lower(email) from t'));
    s.stream.push(Buffer.concat([rowDescription(0, [0]), dataRow(['ann@example.com']), complete('SELECT 1'), encodeReadyForQuery('T')]));
    const bytes = Buffer.concat(s.out);
    assert.equal(bytes[0], 0x45);
    assert.ok(!bytes.includes('ann@example.com'));
    assert.deepEqual(bytes.subarray(bytes.length - 6), encodeReadyForQuery('E'));
  });

  it('holds the result, in order and with the upstream paused, while the catalog is asked; fails closed when it cannot be', async () => {
    const s = setup(false);
    s.stream.frontend(encodeQuery('select * from t'));
    s.stream.push(Buffer.concat([rowDescription(1000, [1, 2]), dataRow(['1', 'ann@example.com'])]));
    assert.equal(s.paused(), true);
    s.stream.push(Buffer.concat([complete('SELECT 1'), encodeReadyForQuery('I')]));
    assert.equal(s.out.length, 0);
    await s.resumed;
    const bytes = Buffer.concat(s.out);
    assert.equal(bytes[0], 0x45); // the catalog at port 1 cannot answer: refused, nothing leaked
    assert.ok(!bytes.includes('ann@example.com'));
    assert.deepEqual(bytes.subarray(bytes.length - 6), encodeReadyForQuery('I'));
  });
});
