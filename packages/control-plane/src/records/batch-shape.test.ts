// The hand-written body validator must agree with the route's JSON schema as fastify's Ajv checks
// it, wherever Ajv accepts a body without coercing or stripping anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import Fastify from 'fastify';
import type { FastifySchemaCompiler, FastifySchema } from 'fastify';
import { recordSchema } from '../plugins/schemas.js';
import { isDateTime, isIsoInstant, recordsBodyProblem } from './batch-shape.js';

const MAX = 5;

/** The validator fastify builds for the records body schema. */
async function schemaValidator(): Promise<(body: unknown) => boolean> {
  const app = Fastify();
  const schema = { body: { type: 'object', required: ['records'], additionalProperties: false, properties: { records: { type: 'array', maxItems: MAX, items: recordSchema } } } };
  app.post('/r', { schema }, async () => 'ok');
  await app.ready();
  const compile = app.validatorCompiler as FastifySchemaCompiler<FastifySchema> | undefined;
  assert.ok(compile, 'fastify set up its validator compiler');
  const full = compile({ schema: schema.body as FastifySchema, method: 'POST', url: '/r', httpPart: 'body' });
  return (body) => full(body) === true;
}

const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
const nearHex = fc.oneof(hex, hex.map((h) => h.toUpperCase()), hex.map((h) => h.slice(1)), fc.string(), fc.integer());
const isoTime = fc.date({ min: new Date(-62_000_000_000_000), max: new Date(253_000_000_000_000), noInvalidDate: true }).map((d) => d.toISOString());
const nearTime = fc.oneof(isoTime, isoTime.map((t) => t.replace('T', ' ')), isoTime.map((t) => t.replace('Z', '+00:00')),
  fc.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), fc.constant('2023-02-29T10:00:00.000Z'), fc.constant('2024-02-29T23:59:60.000Z'), fc.string());
const record = fc.record({
  session: fc.oneof(fc.uuid(), fc.string({ maxLength: 210 }), fc.string({ unit: 'grapheme', maxLength: 205 }), fc.integer()),
  seq: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.constant(2147483648), fc.nat().map(String)),
  time: nearTime,
  prevHash: nearHex,
  hash: nearHex,
  event: fc.oneof(fc.record({ type: fc.oneof(fc.constantFrom('statement', 'session.end'), fc.integer()) }, { requiredKeys: [] }), fc.constant(null), fc.array(fc.string())),
  extra: fc.jsonValue(),
}, { requiredKeys: ['session', 'seq', 'time', 'prevHash', 'hash', 'event'] });
const body = fc.oneof(
  fc.record({ records: fc.array(record, { maxLength: MAX + 1 }) }),
  fc.record({ records: fc.array(record, { maxLength: 2 }), other: fc.jsonValue() }),
  fc.jsonValue(),
).map((b) => JSON.parse(JSON.stringify(b)) as unknown); // what a request body can be

test('the validator accepts exactly what the schema accepts unchanged', async () => {
  const ajv = await schemaValidator();
  let accepted = 0;
  let refused = 0;
  fc.assert(fc.property(body, (b) => {
    const copy = structuredClone(b);
    const ajvOk = ajv(copy);
    let unchanged = true;
    try { assert.deepEqual(copy, b); } catch { unchanged = false; }
    const problem = recordsBodyProblem(b, MAX);
    if (problem === null) { accepted++; assert.ok(ajvOk && unchanged, `accepted, but not by the schema: ${JSON.stringify(b)}`); }
    else if (unchanged) { refused++; assert.equal(ajvOk, false, `refused (${problem.instancePath} ${problem.message}), but the schema accepts: ${JSON.stringify(b)}`); }
  }), { numRuns: 5000 });
  assert.ok(accepted > 100 && refused > 100, `the property saw both outcomes (${accepted} accepted, ${refused} refused)`);
});

test('time stamps: the sidecar\'s form, other RFC 3339 forms, impossible dates', () => {
  assert.equal(isIsoInstant('2024-02-29T23:59:59.999Z'), true);
  assert.equal(isIsoInstant('2024-02-29T24:00:00.000Z'), false);
  for (const t of ['2024-02-29t23:59:59z', '2024-02-29 23:59:59.1+02:00', '2016-12-31T23:59:60Z', '2017-01-01T01:29:60+01:30']) assert.equal(isDateTime(t), true, t);
  for (const t of ['2023-02-29T00:00:00Z', '2024-01-01T00:00:60Z', '2024-01-01T00:00:00', '2024-01-01T00:00:00+24:00', 'yesterday']) assert.equal(isDateTime(t), false, t);
});

test('a refused body names the first offending place', () => {
  const r = { session: 's', seq: 0, time: new Date(0).toISOString(), prevHash: '0'.repeat(64), hash: 'a'.repeat(64), event: { type: 'statement' } };
  assert.equal(recordsBodyProblem({ records: [r, { ...r, seq: 1 }] }, MAX), null);
  assert.deepEqual(recordsBodyProblem({ records: [r, { ...r, hash: 'A'.repeat(64) }] }, MAX), { instancePath: '/records/1/hash', message: 'must match pattern "^[0-9a-f]{64}$"' });
  assert.deepEqual(recordsBodyProblem({ records: [{ ...r, seq: '1' }] }, MAX), { instancePath: '/records/0/seq', message: 'must be integer' });
  assert.deepEqual(recordsBodyProblem({ records: [r], extra: 1 }, MAX), { instancePath: '', message: 'must NOT have additional properties' });
  assert.deepEqual(recordsBodyProblem({ records: Array(MAX + 1).fill(r) }, MAX), { instancePath: '/records', message: `must NOT have more than ${MAX} items` });
});
