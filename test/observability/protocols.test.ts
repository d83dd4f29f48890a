// The dashboard's SSH, Kubernetes and approver-notification queries against a real Prometheus
// scraping a real sidecar and control plane: the harness's sshd behind an SSH connection, the
// exec stand-in (API server + kubelet on the exec path, test/kube/exec-upstream.ts) behind a
// Kubernetes connection, an approver webhook. Allowed, denied and approved commands over ssh,
// kubectl get/delete/exec and a line typed in an exec shell. Every such dashboard query must
// return data; SSH commands, Kubernetes exec and typed lines are counted by rule; the sidecar's logs carry the records' session ids and
// never a command's text.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Approval } from '@chaperone/core/api';
import type { PolicyDoc } from '@chaperone/core/policy/types';
import type { CredentialSource } from '@chaperone/control-plane/credentials/source';
import { startTestPostgres, type TestPostgres } from '@chaperone/control-plane/testing/embedded';
import { buildTestApp, type TestApp } from '@chaperone/control-plane/testing/app';
import { runSidecar, type RunningSidecar } from '@chaperone/sidecar/sidecar';
import { run } from '../harness/postgres.js';
import { startSshd, type SshServer } from '../harness/sshd.js';
import { toolPath } from '../harness/tools.js';
import { startExecUpstream, type ExecUpstream } from '../kube/exec-upstream.js';
import { CLIENT_OPTIONS } from '../ssh/support.js';
import { conventionViolations } from './conventions.js';
import { scrapedFamilies, startPrometheus, type RunningPrometheus } from './prometheus-server.js';
import { dashboardQueries, needsProtocolStack, RELEASE, resolveVariables, shippedDashboard, type Dashboard } from './shipped.js';

const ADMIN = 'observability-protocols-admin-token-0123';
const auth = { authorization: `Bearer ${ADMIN}` };
/** In the denied commands' arguments: it must reach the records, never a log line. */
const SECRET = 's3cr3t-in-an-argument';

const fixedToken: CredentialSource = {
  get: () => Promise.resolve(undefined),
  serviceAccountToken: () => Promise.resolve({ type: 'bearer', token: 'sidecar-upstream-token', expiresAt: new Date(Date.now() + 3_600_000).toISOString() }),
};

function docs(sshd: SshServer, up: ExecUpstream): PolicyDoc[] {
  const subjects = [{ serviceAccount: { namespace: 'agents', name: 'bot' } }];
  return [
    {
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'Connection', metadata: { name: 'box' },
      spec: { type: 'ssh', target: { host: sshd.host, port: sshd.port, user: sshd.user, hostKey: sshd.hostKey }, credentials: { secretRef: { name: 'box-key' } }, listen: { port: 2222 } },
    },
    {
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'Connection', metadata: { name: 'cluster' },
      spec: { type: 'kubernetes', target: { server: up.url, caBundle: up.caCert }, credentials: { serviceAccount: { namespace: 'sys', name: 'agent' } }, listen: { port: 6443 } },
    },
    {
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'box-ops' },
      spec: {
        subjects, connections: ['box'], default: 'allow',
        rules: [
          { action: 'deny', name: 'no-rm', match: { commands: ['rm'] }, message: 'no deleting on the box' },
          { action: 'approve', name: 'held-touch', match: { commands: ['touch *held*'] }, approvers: ['group:sre'], timeout: '60s' },
        ],
      },
    },
    {
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'cluster-ops' },
      spec: {
        subjects, connections: ['cluster'], default: 'allow',
        rules: [
          { action: 'deny', name: 'no-pod-deletes', match: { verbs: ['delete'], resources: ['pods'] } },
          { action: 'deny', name: 'no-rm-in-pods', match: { commands: ['rm'] }, message: 'no rm in pods' },
        ],
      },
    },
  ];
}

describe('SSH, Kubernetes and approver notifications on a real Prometheus', () => {
  let dir: string;
  let sshd: SshServer;
  let up: ExecUpstream;
  let pg: TestPostgres;
  let cp: TestApp;
  let sidecar: RunningSidecar;
  let prom: RunningPrometheus;
  let notify: Server;
  let dashboard: Dashboard;
  const notified: string[] = [];
  const logLines: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chaperone-obs-protocols-'));
    ({ dashboard } = await shippedDashboard());
    sshd = await startSshd();
    up = await startExecUpstream();
    pg = await startTestPostgres();
    // The approver webhook (Slack-compatible): answers 200 and keeps what it was told.
    notify = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => { notified.push(body); res.end('ok'); });
    });
    await new Promise<void>((resolve) => notify.listen(0, '127.0.0.1', resolve));
    const notifyPort = (notify.address() as { port: number }).port;
    cp = await buildTestApp(pg.url, {
      docs: docs(sshd, up), adminToken: ADMIN, credentialSources: [fixedToken],
      secrets: { 'box-key': { username: sshd.user, 'ssh-privatekey': sshd.clientKey } },
      approvals: { webhookUrl: `http://127.0.0.1:${notifyPort}/hook` },
    });
    const url = await cp.app.listen({ host: '127.0.0.1', port: 0 });
    const logs = new Writable({ write(chunk: Buffer, _enc, done) { logLines.push(...chunk.toString().split('\n').filter(Boolean)); done(); } });
    sidecar = await runSidecar({
      controlPlane: { url }, token: { type: 'dev', namespace: 'agents', serviceAccount: 'bot' },
      spoolDir: join(dir, 'spool'), admin: { host: '127.0.0.1', port: 0 }, ports: { box: 0, cluster: 0 }, kubeCaDir: join(dir, 'ca'),
    }, { logger: pino({ level: 'info' }, logs) });
    await sidecar.ready;
    prom = await startPrometheus(join(dir, 'prometheus'), [
      { job: `${RELEASE}-sidecar`, url: `http://127.0.0.1:${sidecar.adminPort}/metrics` },
      { job: `${RELEASE}-control-plane`, url: `${url}/metrics` },
    ]);

    // SSH: an allowed command, a denied one, one held and approved.
    const ssh = (args: string[]) => run('/usr/bin/ssh', ['-p', String(sidecar.ports.box), ...CLIENT_OPTIONS, 'agent@127.0.0.1', ...args]);
    assert.equal((await ssh(['echo', 'hello'])).stdout, 'hello\n');
    assert.notEqual((await ssh(['rm', '-f', `/tmp/${SECRET}`])).code, 0);
    const held = ssh(['touch', join(dir, 'held-file')]);
    const pending = await eventually('the held touch pending', async () => {
      const res = await cp.app.inject({ method: 'GET', url: '/v1/approvals?state=pending', headers: auth });
      return (res.json() as Approval[])[0];
    });
    const decided = await cp.app.inject({ method: 'POST', url: `/v1/approvals/${pending.id}/decision`, headers: auth, payload: { decision: 'approve', reason: 'observability test' } });
    assert.equal(decided.statusCode, 200, decided.body);
    assert.equal((await held).code, 0);

    // Kubernetes: get (allowed), delete (denied by a Kubernetes rule), exec allowed and denied by a shell rule.
    const kubeconfig = join(dir, 'agent.kubeconfig');
    await writeFile(kubeconfig, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'agent',
      clusters: [{ name: 'sidecar', cluster: { server: `https://127.0.0.1:${sidecar.ports.cluster}`, 'certificate-authority': join(dir, 'ca', 'ca.crt') } }],
      users: [{ name: 'agent', user: { token: 'the-agents-own-token' } }],
      contexts: [{ name: 'agent', context: { cluster: 'sidecar', user: 'agent', namespace: 'work' } }],
    }));
    const kubectl = (args: string[]) => run(toolPath('kubectl'), ['--kubeconfig', kubeconfig, ...args]);
    const got = await kubectl(['get', 'pod', 'web', '-o', 'name']);
    assert.equal(got.code, 0, got.stderr);
    assert.notEqual((await kubectl(['delete', 'pod', 'web'])).code, 0);
    const echoed = await kubectl(['exec', 'web', '--', 'echo', 'from-the-pod']);
    assert.equal(echoed.stdout, 'from-the-pod\n', echoed.stderr);
    const refused = await kubectl(['exec', 'web', '--', 'rm', '-f', `/tmp/${SECRET}`]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /no rm in pods/);
    // An interactive shell: each line typed is decided; the rm line is refused by the same rule.
    const shell = await run(toolPath('kubectl'), ['--kubeconfig', kubeconfig, 'exec', '-i', 'web', '--', 'sh'], { input: `echo typed-$((1+1))\nrm -f /tmp/${SECRET}\necho after\n` });
    assert.match(shell.stdout, /typed-2\n/, shell.stderr);
    assert.match(shell.stderr + shell.stdout, /no rm in pods/);
  });

  after(async () => {
    await prom?.stop();
    await sidecar?.close();
    await cp?.close();
    await pg?.cleanup();
    await up?.stop();
    await sshd?.stop();
    await new Promise((resolve) => notify?.close(resolve));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('every SSH, Kubernetes and notification query of the dashboard returns data', async () => {
    const exprs = dashboardQueries(dashboard).filter((q) => needsProtocolStack(q.expr));
    assert.ok(exprs.length >= 9, `the dashboard has its SSH, Kubernetes and notification panels (${exprs.length} queries)`);
    const empty = new Map<string, string>();
    await eventually('every such query answering with data', async () => {
      empty.clear();
      for (const { panel, expr } of exprs) {
        const a = await prom.query(resolveVariables(expr));
        if (!a.ok) throw new Error(`${panel}: ${expr}: ${a.error}`);
        if (a.result.length === 0) empty.set(panel, expr);
      }
      return empty.size === 0 ? true : undefined;
    }, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}\nqueries without data:\n${[...empty].map(([p, e]) => `  ${p}: ${e}`).join('\n')}`);
    });
    assert.equal(notified.length, 1, 'the approver webhook was told of the held command once');
  });

  it('denied SSH commands, Kubernetes requests, exec and typed shell lines are counted by their rule', async () => {
    const series = await eventually('the rule decisions scraped', async () => {
      const a = await prom.query('sum by (protocol, decision, rule) (chaperone_sidecar_rule_decisions_total)');
      assert.ok(a.ok);
      const found = a.result.map((s) => [`${s.metric.protocol} ${s.metric.decision} ${s.metric.rule}`, Number(s.value[1])] as const);
      return found.length >= 4 ? Object.fromEntries(found) : undefined;
    }, 30_000);
    const verbs = await prom.query('sum by (decision, verb) (chaperone_sidecar_kubernetes_requests_total)');
    assert.ok(verbs.ok);
    const byVerb = Object.fromEntries(verbs.result.map((s) => [`${s.metric.decision} ${s.metric.verb}`, Number(s.value[1])]));
    assert.equal(byVerb['deny delete'], 1);
    assert.ok((byVerb['allow get'] ?? 0) >= 1, JSON.stringify(byVerb));
    assert.equal(byVerb['allow create'], 2, 'the allowed exec and the shell (the API server authorizes exec as create)');
    // kubectl retries a refused WebSocket exec over SPDY: one refused `kubectl exec` is one or two requests.
    const refusedExecs = byVerb['deny create'] ?? 0;
    assert.ok(refusedExecs === 1 || refusedExecs === 2, JSON.stringify(byVerb));
    assert.deepEqual(series, {
      'kubernetes deny no-pod-deletes': 1,
      // The refused exec request(s), and the line typed in the shell.
      'kubernetes deny no-rm-in-pods': refusedExecs + 1,
      'ssh approve held-touch': 1,
      'ssh deny no-rm': 1,
    });
  });

  it('every scraped SSH and Kubernetes series follows the conventions (names, units, bounded labels and values)', async () => {
    const families = await scrapedFamilies(prom);
    assert.ok(families.some((f) => f.name === 'chaperone_sidecar_kubernetes_streams_total'), families.map((f) => f.name).join(' '));
    assert.deepEqual(families.flatMap(conventionViolations), []);
  });

  it('the sidecar logs each session start and end with the records\' session id, and no command text', async () => {
    const lines = logLines.map((l) => JSON.parse(l) as { msg: string; session?: string; protocol?: string; connection?: string; rule?: string });
    const sessions = await eventually('the sessions at the control plane', async () => {
      const res = await cp.app.inject({ method: 'GET', url: '/v1/sessions?limit=100', headers: auth });
      const list = res.json() as { id: string; connection: string }[];
      return list.length >= 3 ? list : undefined;
    });
    for (const connection of ['box', 'cluster']) {
      const recorded = sessions.filter((s) => s.connection === connection).map((s) => s.id).sort();
      const started = lines.filter((l) => l.msg === 'session started' && l.connection === connection).map((l) => l.session).sort();
      const ended = lines.filter((l) => l.msg === 'session ended' && l.connection === connection).map((l) => l.session).sort();
      assert.ok(recorded.length > 0, connection);
      assert.deepEqual(started, recorded, `${connection}: a start line per recorded session, same ids`);
      assert.deepEqual(ended, recorded, `${connection}: an end line per recorded session, same ids`);
    }
    assert.ok(lines.some((l) => l.msg === 'command denied' && l.rule === 'no-rm' && l.session !== undefined), 'the SSH denial is logged with its rule and session');
    assert.ok(lines.some((l) => l.msg === 'request denied' && l.rule === 'no-rm-in-pods' && l.session !== undefined), 'the exec denial is logged with its rule and session');
    assert.ok(lines.some((l) => l.msg === 'shell line denied' && l.rule === 'no-rm-in-pods' && l.session !== undefined), 'the typed line\'s denial too');
    assert.deepEqual(logLines.filter((l) => l.includes(SECRET)), [], 'no log line holds a command\'s arguments');
  });
});

async function eventually<T>(what: string, find: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
