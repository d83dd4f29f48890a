// The recorder against a real HTTP server (testing/records-server.ts: POST /v1/records with
// idempotency and chain verification). The real control plane lives in another package and is
// exercised by the integration tests under test/; this server can be told to go down, hang,
// refuse and come back, which is what these tests are about.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENESIS_HASH, sealRecord, verifyChain } from '@chaperone/core/records/chain';
import type { SessionStartEvent, StatementEvent } from '@chaperone/core/records/types';
import { ControlPlaneClient } from '../control-plane-client.js';
import { SidecarMetrics } from '../metrics.js';
import { RecordsServer } from '../testing/records-server.js';
import { DEFAULT_LIMITS, Recorder } from './recorder.js';
import type { RecorderOptions } from './recorder.js';

const FAST = { flushIntervalMs: 20, backoffBaseMs: 20, backoffMaxMs: 200 };

const start: SessionStartEvent = {
  type: 'session.start', protocol: 'postgres', connection: 'orders-db',
  identity: { namespace: 'agents', serviceAccount: 'bot' }, client: { user: 'app', database: 'orders' },
};

function statement(i: number): StatementEvent {
  return {
    type: 'statement', text: `SELECT * FROM orders WHERE id = ${i}`, flow: 'simple', kinds: ['select'], tables: ['orders'],
    decision: { action: 'allow', policy: 'p', rule: 'p#0' }, durationMs: 1, rows: 1, tag: 'SELECT 1',
  };
}

interface Setup {
  server: RecordsServer;
  dir: string;
  client: ControlPlaneClient;
  open(extra?: Partial<RecorderOptions>): Promise<Recorder>;
}

async function setup(t: { after(fn: () => unknown): void }): Promise<Setup> {
  const server = await RecordsServer.start();
  const dir = mkdtempSync(join(tmpdir(), 'recorder-'));
  const client = new ControlPlaneClient({ url: server.url, requestTimeoutMs: 2_000 });
  const recorders: Recorder[] = [];
  t.after(async () => {
    for (const r of recorders) await r.close(100);
    await client.close();
    await server.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    server, dir, client,
    async open(extra = {}) {
      const r = await Recorder.open({ sink: client, grant: () => 'g', spoolDir: dir, ...extra, limits: { ...FAST, ...extra.limits } });
      recorders.push(r);
      return r;
    },
  };
}

/** Polls until `cond` holds; a deadline for the test, not a performance threshold. */
async function waitFor(what: string, cond: () => boolean, deadlineMs = 15_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Every session the server holds is complete from seq 0 and its chain verifies. */
function assertComplete(server: RecordsServer, expected: Record<string, number>): void {
  assert.deepEqual(server.broken, []);
  for (const [session, count] of Object.entries(expected)) {
    const records = server.sessions.get(session) ?? [];
    assert.equal(records.length, count, `session ${session}`);
    assert.deepEqual(verifyChain(records), { ok: true }, `session ${session}`);
  }
}

function segments(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.startsWith('seg-'));
}

test('records go out in batches of at most maxBatchRecords and at most maxBatchBytes', async (t) => {
  const s = await setup(t);
  const max = DEFAULT_LIMITS.maxBatchRecords;
  const recorder = await s.open();
  const session = recorder.openSession(start, 'big');
  for (let i = 0; i < 2 * max + 199; i++) session.record(statement(i));
  assert.equal(await recorder.flush(15_000), true);
  assertComplete(s.server, { big: 2 * max + 200 });
  assert.ok(Math.max(...s.server.batchSizes) <= max, `batches ${s.server.batchSizes.join(',')}`);
  assert.ok(s.server.batchSizes.length >= 3, `batches ${s.server.batchSizes.join(',')}`);
  assert.equal(recorder.stats().sent, 2 * max + 200);

  const small = await setup(t);
  const bytesLimited = await small.open({ limits: { maxBatchBytes: 4_000 } });
  const other = bytesLimited.openSession(start, 'small');
  for (let i = 0; i < 99; i++) other.record(statement(i));
  assert.equal(await bytesLimited.flush(15_000), true);
  assertComplete(small.server, { small: 100 });
  const recordBytes = JSON.stringify(sealRecord('small', 1, GENESIS_HASH, statement(1))).length;
  assert.ok(Math.max(...small.server.batchSizes) <= Math.floor(4_000 / recordBytes), `batches ${small.server.batchSizes.join(',')}`);
});

test('control plane down: records are spooled, then delivered in order with no gaps once it is back', async (t) => {
  const s = await setup(t);
  const metrics = new SidecarMetrics({ processMetrics: false });
  const recorder = await s.open({ metrics });
  await s.server.stop();
  const a = recorder.openSession(start, 'a');
  const b = recorder.openSession(start, 'b');
  for (let i = 0; i < 300; i++) (i % 3 === 0 ? b : a).record(statement(i));
  a.end({ type: 'session.end', reason: 'client', statements: 200, durationMs: 5 });
  // `spooled` counts a record from the moment it is handed to the spool; the file follows.
  await waitFor('records on disk', () => recorder.stats().spooled === 303 && segments(s.dir).length > 0);
  assert.match(await metrics.text(), /chaperone_sidecar_records_spooled 303/);
  b.record(statement(1000));
  await s.server.restart();
  assert.equal(await recorder.flush(15_000), true);
  assertComplete(s.server, { a: 202, b: 102 });
  assert.deepEqual(segments(s.dir), [], 'segments are deleted once acknowledged');
  assert.match(await metrics.text(), /chaperone_sidecar_records_sent_total 304/);
});

test('a new recorder delivers what a previous run left in the spool, and keeps torn lines', async (t) => {
  const s = await setup(t);
  await s.server.stop();
  const first = await s.open();
  const session = first.openSession(start, 'left');
  for (let i = 0; i < 49; i++) session.record(statement(i));
  await first.close(50);
  assert.ok(segments(s.dir).length > 0, 'close spools what it could not deliver');
  // A crash mid-write leaves a torn last line in a segment of its own run.
  const c0 = sealRecord('crashed', 0, GENESIS_HASH, statement(0));
  const c1 = sealRecord('crashed', 1, c0.hash, statement(1));
  writeFileSync(join(s.dir, 'seg-000000000099.jsonl'), `${JSON.stringify(c0)}\n${JSON.stringify(c1)}\n{"session":"crashed","seq":2,"ti`);

  await s.server.restart();
  const second = await s.open();
  assert.equal(await second.flush(15_000), true);
  assertComplete(s.server, { left: 50, crashed: 2 });
  assert.deepEqual(segments(s.dir), []);
  assert.deepEqual(readdirSync(join(s.dir, 'rejected')), ['seg-000000000099.jsonl'], 'the segment with a torn line is kept for an operator');
});

test('a 400 moves the batch to rejected/, counts it, and delivery goes on', async (t) => {
  const s = await setup(t);
  const metrics = new SidecarMetrics({ processMetrics: false });
  const recorder = await s.open({ metrics });
  s.server.mode = 'reject';
  const bad = recorder.openSession(start, 'bad');
  bad.record(statement(1));
  assert.equal(await recorder.flush(15_000), true, 'a refused batch does not loop forever');
  const rejected = readdirSync(join(s.dir, 'rejected'));
  assert.equal(rejected.length, 1);
  const kept = readFileSync(join(s.dir, 'rejected', rejected[0]!), 'utf8').trim().split('\n');
  assert.equal(kept.length, 2);
  assert.equal(recorder.stats().rejected, 2);
  assert.match(await metrics.text(), /chaperone_sidecar_records_rejected_total 2/);

  s.server.mode = 'ok';
  const good = recorder.openSession(start, 'good');
  good.record(statement(2));
  assert.equal(await recorder.flush(15_000), true);
  assertComplete(s.server, { good: 2 });
});

test('a spooled segment that gets a 400 moves to rejected/ whole', async (t) => {
  const s = await setup(t);
  await s.server.stop();
  const recorder = await s.open();
  const session = recorder.openSession(start, 'x');
  session.record(statement(1));
  await waitFor('records on disk', () => recorder.stats().spooled === 2);
  s.server.mode = 'reject';
  await s.server.restart();
  assert.equal(await recorder.flush(15_000), true);
  assert.deepEqual(segments(s.dir), []);
  assert.equal(readdirSync(join(s.dir, 'rejected')).filter((n) => n.startsWith('seg-')).length, 1);
});

test('a 401 asks for a fresh grant and the batch goes through with it', async (t) => {
  const s = await setup(t);
  s.server.validGrants = new Set(['fresh']);
  let grant = 'stale';
  let refreshes = 0;
  const recorder = await s.open({ grant: () => grant, refreshGrant: async () => { refreshes++; grant = 'fresh'; } });
  const session = recorder.openSession(start, 'auth');
  session.record(statement(1));
  assert.equal(await recorder.flush(15_000), true);
  assertComplete(s.server, { auth: 2 });
  assert.equal(refreshes, 1);
  assert.deepEqual(s.server.seenGrants.slice(0, 2), ['stale', 'fresh']);
});

test('queue overflow spools while a request hangs; everything arrives afterwards', async (t) => {
  const s = await setup(t);
  s.server.mode = 'hang';
  const recorder = await s.open({ limits: { maxQueue: 50 } });
  const session = recorder.openSession(start, 'flood');
  for (let i = 0; i < 199; i++) session.record(statement(i));
  // record() returned 200 times while the first batch is still hanging on the server.
  await waitFor('overflow on disk', () => recorder.stats().spooled >= 150);
  assert.ok(recorder.stats().queued <= 50);
  s.server.mode = 'ok';
  s.server.releaseHanging();
  assert.equal(await recorder.flush(15_000), true);
  assertComplete(s.server, { flood: 200 });
});

test('the queue is bounded by its memory too: past maxQueueBytes it spools, in order', async (t) => {
  const s = await setup(t);
  s.server.mode = 'hang';
  // Records of ~20 KB: a 1 MiB chunk holds about 50; the bound is two chunks. A spill of
  // megabytes is cut into segments of about 64 KiB.
  const recorder = await s.open({ limits: { maxQueueBytes: 2 * 1024 * 1024, segmentBytes: 64 * 1024 } });
  const session = recorder.openSession(start, 'bytes');
  const big = (i: number): StatementEvent => ({ ...statement(i), text: `SELECT '${'x'.repeat(20_000)}' AS pad, ${i}` });
  for (let i = 0; i < 399; i++) session.record(big(i));
  await waitFor('overflow on disk', () => recorder.stats().spooled > 0 && recorder.stats().queued < 200);
  assert.ok(recorder.stats().queued + recorder.stats().spooled >= 399);
  assert.ok(segments(s.dir).length > 10, 'the spill went into many small segments');
  s.server.mode = 'ok';
  s.server.releaseHanging();
  assert.equal(await recorder.flush(15_000), true);
  assertComplete(s.server, { bytes: 400 });
});

test('record() never waits on a hanging control plane; close() spools what is left', async (t) => {
  const s = await setup(t);
  s.server.mode = 'hang';
  const recorder = await s.open();
  const session = recorder.openSession(start, 'hung');
  await waitFor('a request in flight', () => s.server.seenGrants.length > 0);
  for (let i = 0; i < 99; i++) session.record(statement(i));
  assert.equal(recorder.stats().queued, 100);
  assert.equal(await recorder.flush(100), false, 'flush reports that it could not deliver');
  await recorder.close(100);
  session.record(statement(100)); // after close: written to the spool at once
  assert.ok(segments(s.dir).length >= 2);

  s.server.mode = 'ok';
  s.server.releaseHanging();
  const next = await s.open();
  assert.equal(await next.flush(15_000), true);
  assertComplete(s.server, { hung: 101 });
});
