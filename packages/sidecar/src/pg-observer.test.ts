// The proxy observer: callbacks become chained session records (redacted where policy says)
// and metrics. Records go through a real Recorder to the test records server.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyChain } from '@chaperone/core/records/chain';
import { loadSqlParser } from '@chaperone/core/sql/classify';
import { redactLiterals } from '@chaperone/core/sql/redact';
import { ControlPlaneClient } from './control-plane-client.js';
import { SidecarMetrics } from './metrics.js';
import { createPgObserver } from './pg-observer.js';
import type { SqlVerdict } from './pg/proxy.js';
import { Recorder } from './recorder/recorder.js';
import { RecordsServer } from './testing/records-server.js';

before(() => loadSqlParser());

const allow: SqlVerdict = { decision: { action: 'allow', policy: 'p', rule: 'p#1' }, kinds: ['select'], tables: ['customers'], redactLiterals: true };
const deny: SqlVerdict = { decision: { action: 'deny', policy: 'p', rule: 'p#0', message: 'no drops' }, kinds: ['drop'], tables: ['orders'], redactLiterals: false };

test('a session becomes start, statements and end records, with literals redacted when asked', async (t) => {
  const server = await RecordsServer.start();
  const dir = mkdtempSync(join(tmpdir(), 'observer-'));
  const client = new ControlPlaneClient({ url: server.url });
  const metrics = new SidecarMetrics({ processMetrics: false });
  const recorder = await Recorder.open({ sink: client, grant: () => 'g', spoolDir: dir, metrics, limits: { flushIntervalMs: 10 } });
  t.after(async () => { await recorder.close(100); await client.close(); await server.stop(); rmSync(dir, { recursive: true, force: true }); });

  const observer = createPgObserver({ connection: 'orders-db', identity: { namespace: 'agents', serviceAccount: 'bot' }, recorder, metrics, redact: redactLiterals });
  observer.sessionStarted({ id: 's1', client: { user: 'agent', database: 'app' } });
  assert.match(await metrics.text(), /chaperone_sidecar_connections_active\{protocol="postgres",connection="orders-db"\} 1/);
  observer.statement({ session: 's1', text: "SELECT * FROM customers WHERE email = 'a@b.c'", flow: 'simple', verdict: allow, durationMs: 2, rows: 1, tag: 'SELECT 1' });
  observer.statement({ session: 's1', text: 'DROP TABLE orders', flow: 'extended', verdict: deny, durationMs: 0, error: { code: '42501', message: 'no drops' } });
  observer.statement({ session: 'unknown', text: 'SELECT 1', flow: 'simple', verdict: allow, durationMs: 1 });
  observer.sessionEnded({ session: 's1', reason: 'client', statements: 2, durationMs: 10 });
  assert.equal(await recorder.flush(10_000), true);

  const records = server.sessions.get('s1') ?? [];
  assert.deepEqual(verifyChain(records), { ok: true });
  assert.deepEqual(records.map((r) => r.event.type), ['session.start', 'statement', 'statement', 'session.end']);
  const [, selected, dropped] = records.map((r) => r.event);
  assert.ok(selected?.type === 'statement' && dropped?.type === 'statement');
  assert.doesNotMatch(selected.text, /a@b\.c/, 'the literal a mask rule covers is not recorded');
  assert.match(selected.text, /\$1/);
  assert.deepEqual(selected.decision, { action: 'allow', policy: 'p', rule: 'p#1' });
  assert.equal(dropped.text, 'DROP TABLE orders');
  assert.deepEqual(dropped.decision, { action: 'deny', policy: 'p', rule: 'p#0', message: 'no drops' });
  assert.deepEqual(dropped.error, { code: '42501', message: 'no drops' });

  const text = await metrics.text();
  assert.match(text, /chaperone_sidecar_statements_total\{protocol="postgres",connection="orders-db",decision="allow"\} 2/);
  assert.match(text, /chaperone_sidecar_statements_total\{protocol="postgres",connection="orders-db",decision="deny"\} 1/);
  assert.match(text, /chaperone_sidecar_statement_duration_seconds_count\{protocol="postgres",connection="orders-db"\} 2/, 'denied statements are not timed');
  assert.match(text, /chaperone_sidecar_connections_active\{protocol="postgres",connection="orders-db"\} 0/);
  assert.match(text, /chaperone_sidecar_connections_total\{protocol="postgres",connection="orders-db"\} 1/);
});

test('a held statement: approval records around it, the statement names its approval, waits are timed by outcome', async (t) => {
  const server = await RecordsServer.start();
  const dir = mkdtempSync(join(tmpdir(), 'observer-'));
  const client = new ControlPlaneClient({ url: server.url });
  const metrics = new SidecarMetrics({ processMetrics: false });
  const recorder = await Recorder.open({ sink: client, grant: () => 'g', spoolDir: dir, metrics, limits: { flushIntervalMs: 10 } });
  t.after(async () => { await recorder.close(100); await client.close(); await server.stop(); rmSync(dir, { recursive: true, force: true }); });

  const approve: SqlVerdict = {
    decision: { action: 'approve', approvers: ['group:dba'], timeoutSeconds: 60, message: 'needs a DBA', policy: 'p', rule: 'p#2' }, kinds: ['delete'], tables: ['orders'], redactLiterals: false,
  };
  const rule = { policy: 'p', rule: 'p#2' };
  const observer = createPgObserver({ connection: 'orders-db', identity: { namespace: 'agents', serviceAccount: 'bot' }, recorder, metrics, redact: redactLiterals });
  observer.sessionStarted({ id: 's2', client: {} });
  observer.approval?.({ session: 's2', id: 'ap-1', state: 'pending', rule });
  observer.approval?.({ session: 's2', id: 'ap-1', state: 'approved', rule, by: 'alice', waitedMs: 1500 });
  observer.statement({ session: 's2', text: 'DELETE FROM orders', flow: 'simple', verdict: approve, durationMs: 3, rows: 2, tag: 'DELETE 2', approval: 'ap-1' });
  observer.approval?.({ session: 's2', state: 'unavailable', rule, waitedMs: 10 });
  observer.statement({ session: 's2', text: 'DELETE FROM orders', flow: 'simple', verdict: approve, durationMs: 0, error: { code: '42501', message: 'could not be obtained' }, refused: true });
  observer.sessionEnded({ session: 's2', reason: 'client', statements: 2, durationMs: 10 });
  assert.equal(await recorder.flush(10_000), true);

  const records = server.sessions.get('s2') ?? [];
  assert.deepEqual(verifyChain(records), { ok: true });
  const events = records.map((r) => r.event);
  assert.deepEqual(events.map((e) => e.type), ['session.start', 'approval', 'approval', 'statement', 'statement', 'session.end'], 'no approval record without an approval');
  assert.deepEqual(events[1], { type: 'approval', id: 'ap-1', state: 'pending', rule });
  assert.deepEqual(events[2], { type: 'approval', id: 'ap-1', state: 'approved', rule, by: 'alice', waitedMs: 1500 });
  const ran = events[3];
  assert.ok(ran?.type === 'statement');
  assert.equal(ran.approval, 'ap-1');
  assert.equal(ran.tag, 'DELETE 2');

  const text = await metrics.text();
  assert.match(text, /chaperone_sidecar_approval_wait_seconds_count\{protocol="postgres",connection="orders-db",outcome="approved"\} 1/);
  assert.match(text, /chaperone_sidecar_approval_wait_seconds_count\{protocol="postgres",connection="orders-db",outcome="unavailable"\} 1/);
  assert.match(text, /chaperone_sidecar_statements_total\{protocol="postgres",connection="orders-db",decision="approve"\} 2/);
  assert.match(text, /chaperone_sidecar_statement_duration_seconds_count\{protocol="postgres",connection="orders-db"\} 1/, 'a refused held statement is not timed');
});
