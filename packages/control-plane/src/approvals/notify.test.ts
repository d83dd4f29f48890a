// Approver notification against a real local HTTP server: the Slack-compatible payload with its
// link, and failures (error status, slow or gone receiver) counted without holding the request.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Approval } from '@chaperone/core/api';
import { startTestPostgres, type TestPostgres } from '../testing/embedded.js';
import { buildTestApp, sampleDocs, type TestApp } from '../testing/app.js';
import { slackPayload } from './notify.js';

const PUBLIC = 'https://chaperone.example.test';
let pg: TestPostgres;
let t: TestApp;
let hook: Server;
let grant: string;
let answer = 200;
const received: { headers: IncomingMessage['headers']; body: { text: string; blocks: { type: string; text?: { text: string } }[] } }[] = [];
const arrived: (() => void)[] = [];

before(async () => {
  hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as (typeof received)[number]['body'] });
      res.writeHead(answer).end(answer === 200 ? 'ok' : 'no');
      arrived.shift()?.();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  pg = await startTestPostgres();
  t = await buildTestApp(pg.url, {
    docs: sampleDocs().map((d) => (d.kind === 'AccessPolicy'
      ? { ...d, spec: { ...d.spec, rules: [...d.spec.rules, { action: 'approve' as const, match: { statements: ['delete'] }, approvers: ['group:dba'] }] } }
      : d)),
    secrets: { 'orders-db-admin': { username: 'u', password: 'p' } },
    approvals: { webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hooks/approvals`, publicUrl: `${PUBLIC}/` },
  });
  grant = await t.grantFor({ namespace: 'agents', serviceAccount: 'support-bot' });
});
after(async () => {
  await t?.close();
  await pg?.cleanup();
  hook?.closeAllConnections();
  hook?.close();
});

async function create(text: string): Promise<Approval> {
  const res = await t.app.inject({
    method: 'POST', url: '/v1/approvals', headers: { authorization: `Bearer ${grant}` },
    payload: {
      session: 's', protocol: 'postgres', connection: 'orders-db', operation: { kind: 'sql', text, params: ['secret-param-1'] },
      rule: { policy: 'support-agents', rule: 'support-agents#1' }, approvers: ['group:dba'], timeoutSeconds: 60, message: 'deletes need a DBA',
    },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as Approval;
}

async function metric(line: RegExp): Promise<boolean> {
  return line.test((await t.app.inject({ method: 'GET', url: '/metrics' })).body);
}

test('a new request is posted to the webhook with text, blocks and a link to it', async () => {
  const delivered = new Promise<void>((resolve) => arrived.push(resolve));
  const a = await create('DELETE FROM orders WHERE id = $1');
  assert.equal(a.url, `${PUBLIC}/v1/approvals/${a.id}`);
  await delivered;
  const got = received.at(-1)!;
  assert.match(String(got.headers['content-type']), /^application\/json/);
  assert.deepEqual(got.body, slackPayload(a));
  assert.match(got.body.text, new RegExp(`<${PUBLIC}/v1/approvals/${a.id}\\|${a.id}>`));
  assert.match(got.body.text, /agents\/support-bot on orders-db \(postgres\): deletes need a DBA/);
  assert.ok(got.body.blocks.some((b) => b.text?.text.includes('DELETE FROM orders WHERE id = $1  -- 1 parameter(s), shown on the approval')));
  // The Bind parameter's value stays out of the channel.
  assert.doesNotMatch(JSON.stringify(got.body), /secret-param-1/);
  for (let i = 0; i < 50 && !(await metric(/^chaperone_approvals_notifications_total\{result="ok"\} 1$/m)); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(await metric(/^chaperone_approvals_notifications_total\{result="ok"\} 1$/m));
});

test('a failing webhook is counted and does not fail the request', async () => {
  answer = 500;
  const delivered = new Promise<void>((resolve) => arrived.push(resolve));
  const a = await create('DELETE FROM orders');
  assert.equal(a.state, 'pending');
  await delivered;
  for (let i = 0; i < 50 && !(await metric(/^chaperone_approvals_notifications_total\{result="error"\} 1$/m)); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(await metric(/^chaperone_approvals_notifications_total\{result="error"\} 1$/m));
  answer = 200;
});

test('the quoted operation cannot break out of its code block and is bounded', () => {
  const a = { id: 'x', identity: { namespace: 'n', serviceAccount: 's' }, connection: 'c', protocol: 'ssh', message: 'm', rule: { policy: 'p', rule: 'p#0' },
    approvers: [], expiresAt: '2030-01-01T00:00:00.000Z', operation: { kind: 'command', command: `echo \`\`\` ${'y'.repeat(5000)}` } } as unknown as Approval;
  const p = slackPayload(a);
  const code = p.blocks[1] as { text: { text: string } };
  assert.equal(code.text.text.match(/```/g)?.length, 2);
  assert.ok(code.text.text.length < 1600);
  assert.match(p.text, /Approval needed: x — n\/s on c \(ssh\): m/);
});

test('bidi overrides and control characters in the quoted operation are shown escaped', () => {
  const a = { id: 'x', identity: { namespace: 'n', serviceAccount: 's' }, connection: 'c', protocol: 'postgres', message: 'm', rule: { policy: 'p', rule: 'p#0' },
    approvers: [], expiresAt: '2030-01-01T00:00:00.000Z', operation: { kind: 'sql', text: 'DELETE FROM t /*\u202e1 TCELES\x1b[2K*/', params: [] } } as unknown as Approval;
  const code = (slackPayload(a).blocks[1] as { text: { text: string } }).text.text;
  assert.equal(code, '```DELETE FROM t /*\\u202e1 TCELES\\u001b[2K*/```');
});
