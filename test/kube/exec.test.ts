// pods/exec, attach and portforward through the sidecar, end to end: real kubectl and
// @kubernetes/client-node as the agent, the real sidecar and control plane. The upstream is the
// exec stand-in of exec-upstream.ts, not the harness's kube-apiserver: that cluster has no
// kubelet, so no exec there can reach a container; the stand-in speaks the kubelet's exec
// WebSocket protocol and runs the commands here. Policy: deny rm, approve touch, allow the rest.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { Exec, KubeConfig } from '@kubernetes/client-node';
import type { V1Status } from '@kubernetes/client-node';
import type { Approval } from '@chaperone/core/api';
import type { PolicyDoc } from '@chaperone/core/policy/types';
import { parseAsciicast } from '@chaperone/core/records/asciicast';
import type { CredentialSource } from '@chaperone/control-plane/credentials/source';
import { startTestPostgres } from '@chaperone/control-plane/testing/embedded';
import type { TestPostgres } from '@chaperone/control-plane/testing/embedded';
import { buildTestApp } from '@chaperone/control-plane/testing/app';
import type { TestApp } from '@chaperone/control-plane/testing/app';
import { runSidecar } from '@chaperone/sidecar/sidecar';
import type { RunningSidecar } from '@chaperone/sidecar/sidecar';
import { run } from '../harness/postgres.js';
import { toolPath } from '../harness/tools.js';
import { startExecUpstream } from './exec-upstream.js';
import type { ExecUpstream } from './exec-upstream.js';

const ADMIN = { authorization: 'Bearer kube-exec-test-admin-token-0123456789' };
const UPSTREAM_TOKEN = 'sidecar-upstream-token-for-exec';
const AGENT_TOKEN = 'the-agents-own-token';
const NS = 'work';

/** The sidecar's upstream credential: a fixed bearer token (the stand-in has no TokenRequest API). */
const fixedToken: CredentialSource = {
  get: () => Promise.resolve(undefined),
  serviceAccountToken: () => Promise.resolve({ type: 'bearer', token: UPSTREAM_TOKEN, expiresAt: new Date(Date.now() + 3_600_000).toISOString() }),
};

function docs(up: ExecUpstream): PolicyDoc[] {
  return [
    {
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'Connection', metadata: { name: 'cluster' },
      spec: { type: 'kubernetes', target: { server: up.url, caBundle: up.caCert }, credentials: { serviceAccount: { namespace: 'sys', name: 'agent' } }, listen: { port: 6443 } },
    },
    {
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'exec' },
      spec: {
        subjects: [{ serviceAccount: { namespace: 'agents', name: 'bot' } }],
        connections: ['cluster'],
        rules: [
          { action: 'deny', match: { commands: ['rm'] }, message: 'no rm in pods' },
          { action: 'approve', match: { commands: ['touch *'] }, approvers: ['group:sre'], timeout: '60s' },
        ],
        default: 'allow',
      },
    },
    // A second connection to the same upstream whose policy allows port-forwarding.
    {
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'Connection', metadata: { name: 'cluster-pf' },
      spec: { type: 'kubernetes', target: { server: up.url, caBundle: up.caCert }, credentials: { serviceAccount: { namespace: 'sys', name: 'agent' } }, listen: { port: 6444 } },
    },
    {
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'forwarding' },
      spec: {
        subjects: [{ serviceAccount: { namespace: 'agents', name: 'bot' } }],
        connections: ['cluster-pf'],
        // Under default deny both families must allow: the Kubernetes rules the request, the shell rules the operation.
        rules: [
          { action: 'allow', match: { verbs: ['get'], resources: ['pods'] } },
          { action: 'allow', match: { resources: ['pods/portforward'] } },
          { action: 'allow', match: { operations: ['port-forward'] } },
        ],
        default: 'deny',
      },
    },
  ];
}

let up: ExecUpstream;
let pg: TestPostgres;
let cp: TestApp;
let sidecar: RunningSidecar;
let dir: string;
let kubeconfig: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chaperone-kube-exec-'));
  up = await startExecUpstream();
  pg = await startTestPostgres();
  cp = await buildTestApp(pg.url, { docs: docs(up), adminToken: ADMIN.authorization.slice(7), credentialSources: [fixedToken] });
  const url = await cp.app.listen({ host: '127.0.0.1', port: 0 });
  sidecar = await runSidecar({
    controlPlane: { url }, token: { type: 'dev', namespace: 'agents', serviceAccount: 'bot' },
    spoolDir: join(dir, 'spool'), admin: { host: '127.0.0.1', port: 0 }, ports: { cluster: 0, 'cluster-pf': 0 },
    kubeCaDir: join(dir, 'ca'), logLevel: 'silent',
  });
  await sidecar.ready;
  kubeconfig = join(dir, 'agent.kubeconfig');
  await writeFile(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'agent',
    clusters: [
      { name: 'sidecar', cluster: { server: `https://127.0.0.1:${sidecar.ports.cluster}`, 'certificate-authority': join(dir, 'ca', 'ca.crt') } },
      { name: 'sidecar-pf', cluster: { server: `https://127.0.0.1:${sidecar.ports['cluster-pf']}`, 'certificate-authority': join(dir, 'ca', 'ca.crt') } },
    ],
    users: [{ name: 'agent', user: { token: AGENT_TOKEN } }],
    contexts: [{ name: 'agent', context: { cluster: 'sidecar', user: 'agent', namespace: NS } }, { name: 'pf', context: { cluster: 'sidecar-pf', user: 'agent', namespace: NS } }],
  }));
});

after(async () => {
  await sidecar?.close();
  await cp?.close();
  await pg?.cleanup();
  await up?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function kubectl(args: string[], o: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}) {
  return run(toolPath('kubectl'), ['--kubeconfig', kubeconfig, ...args], o);
}

function execsSeen(): string[] {
  return up.requests.filter((r) => r.url.includes('/exec?')).map((r) => decodeURIComponent(r.url));
}

function clientNode(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc;
}

type Ev = { type: string } & Record<string, unknown>;

/** Every record the control plane holds for the connection, waiting until `until` finds what it needs. */
async function recordsUntil<T>(until: (events: Ev[], bySession: Map<string, Ev[]>) => T | undefined, connection = 'cluster'): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const list = await cp.app.inject({ method: 'GET', url: `/v1/sessions?connection=${connection}&limit=500`, headers: ADMIN });
    const bySession = new Map<string, Ev[]>();
    for (const session of list.json() as { id: string }[]) {
      const detail = await cp.app.inject({ method: 'GET', url: `/v1/sessions/${session.id}`, headers: ADMIN });
      bySession.set(session.id, (detail.json() as { records: { event: Ev }[] }).records.map((r) => r.event));
    }
    const found = until([...bySession.values()].flat(), bySession);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('records not found');
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('kubectl exec (WebSocket): output, stderr and exit code through the sidecar, with its credential upstream', async () => {
  const r = await kubectl(['exec', 'web', '--', 'sh', '-c', 'echo out-$((40+2)); echo err-line >&2; exit 3']);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, 'out-42\n');
  assert.match(r.stderr, /err-line/);
  const exec = up.requests.find((q) => q.url.includes('/exec?') && q.url.includes('out-'));
  assert.ok(exec, 'the exec reached the upstream');
  assert.equal(exec.authorization, `Bearer ${UPSTREAM_TOKEN}`);
  assert.ok(up.requests.every((q) => q.authorization !== `Bearer ${AGENT_TOKEN}`), 'the agent\'s token never reaches the upstream');
  assert.match(exec.protocol ?? '', /v5\.channel\.k8s\.io/);
  const command = await recordsUntil((events) => events.find((e) => e.type === 'command' && String(e.command).includes('out-')));
  assert.equal(command.exitStatus, 3);
  assert.deepEqual(command.decision, { action: 'allow', policy: 'exec', rule: 'default' });
  assert.deepEqual(command.programs, ['sh', 'echo', 'exit']);
});

test('kubectl exec with stdin: input reaches the command', async () => {
  const r = await kubectl(['exec', '-i', 'web', '--', 'tr', 'a-z', 'A-Z'], { input: 'piped through\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'PIPED THROUGH\n');
});

test('a large output passes whole (the relay pauses a side whose peer is behind)', async () => {
  const counted = await kubectl(['exec', 'web', '--', 'sh', '-c', 'head -c 30000000 /dev/zero']);
  assert.equal(counted.code, 0, counted.stderr);
  assert.equal(counted.stdout.length, 30_000_000);
});

test('a denied command is refused with a 403 before the upgrade; nothing reaches the upstream', async () => {
  const before = execsSeen().length;
  const r = await kubectl(['exec', 'web', '--', 'rm', '-rf', '/tmp/x']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /no rm in pods/);
  assert.equal(execsSeen().length, before);
  const denied = await recordsUntil((events) => events.find((e) => e.type === 'kubernetes.request' && e.subresource === 'exec' && e.status === 403));
  assert.equal(denied.verb, 'create');
  assert.equal((denied.decision as { rule: string }).rule, 'exec#0');
});

test('an upstream that answers without upgrading (the pod is gone) is passed on whole, over WebSocket and SPDY', async () => {
  for (const env of [{}, { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' }] as Record<string, string>[]) {
    const r = await kubectl(['exec', 'gone', '--', 'true'], { env });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /pods "gone" not found \(stand-in\)/, JSON.stringify(env));
  }
  const refused = await recordsUntil((events) => events.find((e) => e.type === 'kubernetes.request' && e.subresource === 'exec' && e.status === 404));
  assert.equal(refused.name, 'gone');
});

test('hidden denied commands are seen through: sh -c, env, a wrapper', async () => {
  const before = execsSeen().length;
  for (const argv of [['sh', '-c', 'rm -rf /'], ['env', 'X=1', 'rm', '-rf', '/'], ['nice', 'sh', '-c', 'cd / && rm -rf *'], ['sh', '-c', 'eval "$(echo rm) -rf /"']]) {
    const r = await kubectl(['exec', 'web', '--', ...argv]);
    assert.notEqual(r.code, 0, argv.join(' '));
    assert.match(r.stderr, /403|Forbidden|denied|no rm/i, argv.join(' '));
  }
  assert.equal(execsSeen().length, before, `reached the upstream: ${execsSeen().slice(before).join('\n')}`);
});

test('@kubernetes/client-node Exec: output and the exit Status', async () => {
  const out: Buffer[] = [];
  const status = await new Promise<V1Status>((resolve, reject) => {
    new Exec(clientNode()).exec(NS, 'web', 'main', ['sh', '-c', 'printf client-node; exit 7'], sink(out), null, null, false, resolve).catch(reject);
  });
  assert.equal(Buffer.concat(out).toString(), 'client-node');
  assert.equal(status.status, 'Failure');
  assert.equal(status.reason, 'NonZeroExitCode');
  assert.deepEqual(status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message, '7');
  await assert.rejects(
    new Exec(clientNode()).exec(NS, 'web', 'main', ['rm', 'x'], sink([]), null, null, false),
    (err: Error) => /403|Forbidden|Unexpected server response/i.test(String(err.message ?? err)),
  );
});

test('an interactive tty session is recorded (input, output, resize) and replays as asciicast', async () => {
  const out: Buffer[] = [];
  const stdin = new PassThrough();
  // A stdout with rows and columns: client-node sends its size on the resize channel (4).
  const stdout = Object.assign(sink(out), { rows: 33, columns: 101 });
  const done = new Promise<V1Status>((resolve, reject) => {
    new Exec(clientNode()).exec(NS, 'web', 'main', ['sh'], stdout, null, stdin, true, resolve).catch(reject);
  });
  await waitFor(() => up.resizes.some((r) => r.cols === 101 && r.rows === 33), 'the resize reached the stand-in');
  stdin.write('echo tty-$((6*7))\n');
  await waitFor(() => Buffer.concat(out).toString().includes('tty-42'), 'the command ran');
  // A bare shell is an interactive session: each line is checked before its Enter reaches the container.
  const marker = `/tmp/chaperone-tty-denied-${process.pid}`;
  await writeFile(marker, '');
  stdin.write(`rm -f ${marker}\n`);
  await waitFor(() => Buffer.concat(out).toString().includes('chaperone: denied: no rm in pods'), 'the denied line was refused');
  stdin.write('exit 0\n');
  const status = await done;
  assert.equal(status.status, 'Success');
  await access(marker);
  await rm(marker);
  const { session, command, line } = await recordsUntil((_events, bySession) => {
    for (const [id, events] of bySession) {
      const c = events.find((e) => e.type === 'command' && e.command === 'sh' && e.exitStatus === 0);
      const line = events.find((e) => e.type === 'command' && String(e.command).startsWith('rm -f /tmp/chaperone-tty-denied'));
      if (c && line && events.some((e) => e.type === 'terminal')) return { session: id, command: c, line };
    }
    return undefined;
  });
  assert.equal(command.channel, 1);
  assert.deepEqual(command.decision, { action: 'allow', policy: 'exec', rule: 'default' });
  assert.equal(line.channel, 1);
  assert.equal((line.decision as { action: string }).action, 'deny');
  const cast = await cp.app.inject({ method: 'GET', url: `/v1/sessions/${session}/cast`, headers: ADMIN });
  assert.equal(cast.statusCode, 200, cast.body);
  const parsed = parseAsciicast(cast.body);
  assert.ok(parsed.ok, cast.body);
  assert.equal(parsed.cast.header.width, 101);
  assert.equal(parsed.cast.header.height, 33);
  assert.equal(parsed.cast.header.command, 'sh');
  const text = (code: string) => parsed.cast.events.filter((e) => e[1] === code).map((e) => e[2]).join('');
  assert.match(text('i'), /echo tty-\$\(\(6\*7\)\)\n/);
  assert.match(text('o'), /tty-42/);
  assert.ok(parsed.cast.events.some((e) => e[1] === 'r' && e[2] === '101x33'));
});

test('kubectl exec -it (under script(1) for a terminal): the typed lines are checked, the session recorded', async () => {
  const marker = `/tmp/chaperone-kubectl-tty-${process.pid}`;
  await writeFile(marker, '');
  // Each line waits for the one before to have been answered: kubectl puts the terminal in raw mode first.
  const typed = `sleep 1; printf 'echo kubectl-$((20+3))\\n'; sleep 1; printf 'rm ${marker}\\n'; sleep 1; printf 'exit 0\\n'; sleep 1`;
  const r = await run('sh', ['-c', `(${typed}) | script -qfec "${toolPath('kubectl')} --kubeconfig ${kubeconfig} exec -it web -- sh" /dev/null`]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /kubectl-23/);
  assert.match(r.stdout, /chaperone: denied: no rm in pods/);
  await access(marker);
  await rm(marker);
  const events = await recordsUntil((all, bySession) => {
    for (const evs of bySession.values()) {
      if (evs.some((e) => e.type === 'command' && e.command === `rm ${marker}`) && evs.some((e) => e.type === 'command' && e.command === 'sh' && e.exitStatus === 0)) return evs;
    }
    return undefined;
  });
  const start = events.find((e) => e.type === 'terminal.start');
  assert.equal(start?.command, 'sh');
  const output = events.filter((e) => e.type === 'terminal').flatMap((e) => e.events as [number, string, string][]).filter((e) => e[1] === 'o').map((e) => e[2]).join('');
  assert.match(output, /kubectl-23/);
  assert.match(output, /chaperone: denied/);
});

test('a running exec that a new bundle denies is ended', async () => {
  const original = docs(up);
  const stricter = structuredClone(original);
  const p = stricter[1];
  assert.ok(p?.kind === 'AccessPolicy');
  p.spec.rules.unshift({ action: 'deny', match: { commands: ['sleep'] }, message: 'no sleeping now' });
  const closed = new Promise<void>((resolve, reject) => {
    new Exec(clientNode()).exec(NS, 'web', 'main', ['sleep', '60'], sink([]), null, null, false)
      .then((ws) => ws.on('close', () => resolve()), reject);
  });
  await waitFor(() => up.requests.some((q) => q.url.includes('command=sleep')), 'the exec is running');
  try {
    await cp.setDocs(stricter);
    let done = false;
    void closed.then(() => { done = true; });
    await waitFor(() => done, 'the running exec is closed', 25_000);
    const again = await kubectl(['exec', 'web', '--', 'sleep', '0']);
    assert.match(again.stderr, /no sleeping now/);
  } finally {
    await cp.setDocs(original);
  }
});

test('kubectl attach -i: an interactive session, each line checked before it reaches the container', async () => {
  const marker = `/tmp/chaperone-attach-${process.pid}`;
  await writeFile(marker, '');
  const r = await kubectl(['attach', '-i', 'web'], { input: `echo attached-$((1+1))\nrm ${marker}\necho after\n` });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /attached-2\nafter\n/);
  assert.match(r.stderr, /chaperone: denied: no rm in pods/);
  await access(marker);
  await rm(marker);
  const line = await recordsUntil((events) => events.find((e) => e.type === 'command' && e.command === `rm ${marker}`));
  assert.equal((line.decision as { action: string }).action, 'deny');
});

test('a held exec runs once approved', async () => {
  const target = `/tmp/chaperone-exec-approved-${process.pid}`;
  const running = kubectl(['exec', 'web', '--', 'touch', target]);
  let approval: Approval | undefined;
  await waitFor(async () => {
    const res = await cp.app.inject({ method: 'GET', url: '/v1/approvals?state=pending', headers: ADMIN });
    approval = (res.json() as Approval[]).find((a) => a.operation.kind === 'command' && a.operation.command.includes(target));
    return approval !== undefined;
  }, 'the exec is held');
  assert.equal(approval?.operation.kind === 'command' && approval.operation.command, `kubectl exec -n ${NS} web -c main -- touch ${target}`);
  assert.ok(!execsSeen().some((u) => u.includes(target)), 'nothing ran before the approval');
  const decided = await cp.app.inject({ method: 'POST', url: `/v1/approvals/${approval!.id}/decision`, headers: ADMIN, payload: { decision: 'approve', reason: 'ok' } });
  assert.equal(decided.statusCode, 200, decided.body);
  const r = await running;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(execsSeen().some((u) => u.includes(target)));
  await rm(target, { force: true });
});

test('port-forward is refused unless a rule allows it, and recorded', async () => {
  const r = await kubectl(['port-forward', 'pod/web', '18080:8080'], { env: { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'true' } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /port-forward is denied unless a policy rule allows it/);
  assert.ok(!up.requests.some((q) => q.url.includes('/portforward')));
  const ev = await recordsUntil((events) => events.find((e) => e.type === 'channel' && e.kind === 'port-forward'));
  assert.equal(ev.detail, `${NS}/web`);
  assert.equal((ev.decision as { action: string }).action, 'deny');
});

test('port-forward where a rule allows it is relayed upstream with the sidecar\'s credential', async () => {
  // The stand-in serves no port-forward: kubectl fails after the sidecar passed the upgrade on.
  await kubectl(['--context', 'pf', 'port-forward', 'pod/web', '18081:8080'], { timeoutMs: 20_000 });
  const relayed = up.requests.find((q) => q.url.includes('/pods/web/portforward'));
  assert.ok(relayed, 'the allowed port-forward reached the upstream');
  assert.equal(relayed.authorization, `Bearer ${UPSTREAM_TOKEN}`);
  const ev = await recordsUntil((events) => events.find((e) => e.type === 'channel' && e.kind === 'port-forward' && (e.decision as { action: string }).action === 'allow'), 'cluster-pf');
  assert.equal(ev.detail, `${NS}/web`);
});

test('an exec offering subprotocols the sidecar does not speak (not even valid tokens) is answered, and the sidecar keeps serving', async () => {
  const ca = await readFile(join(dir, 'ca', 'ca.crt'), 'utf8');
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: sidecar.ports.cluster, ca, path: `/api/v1/namespaces/${NS}/pods/web/exec?command=true&stdout=true`,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-protocol': 'SPDY/3.1+portforward.k8s.io, a b, ,' },
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve(res.statusCode ?? 0); });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end();
  });
  assert.ok([101, 400].includes(status), String(status));
  const r = await kubectl(['exec', 'web', '--', 'echo', 'still-serving']);
  assert.equal(r.stdout, 'still-serving\n', r.stderr);
});

test('SPDY (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false): checked before the upgrade, then relayed with the sidecar\'s credential', async () => {
  const spdy = { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' };
  const before = up.requests.length;
  const denied = await kubectl(['exec', 'web', '--', 'sh', '-c', 'rm -rf /'], { env: spdy });
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /no rm in pods/);
  assert.ok(!up.requests.slice(before).some((q) => q.url.includes('/exec')), 'a denied SPDY exec never reaches the upstream');
  const r = await kubectl(['exec', 'web', '--', 'sh', '-c', 'echo spdy-out; echo spdy-err >&2; exit 4'], { env: spdy });
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stdout, 'spdy-out\n');
  assert.match(r.stderr, /spdy-err/);
  const relayed = up.requests.slice(before).find((q) => q.url.includes('/exec') && q.url.includes('spdy-out'));
  assert.ok(relayed, 'the allowed SPDY exec reached the upstream');
  assert.equal(relayed.authorization, `Bearer ${UPSTREAM_TOKEN}`);
  assert.match(relayed.protocol ?? '', /v4\.channel\.k8s\.io/);
  // The sidecar followed the SPDY frames: the exit Status on the error stream is in the record.
  const command = await recordsUntil((events) => events.find((e) => e.type === 'command' && String(e.command).includes('spdy-out')));
  assert.equal(command.exitStatus, 4);
  // An interactive shell cannot be checked line by line over SPDY: refused.
  const shell = await kubectl(['exec', '-i', 'web', '--', 'sh'], { env: spdy, input: 'echo hi\n' });
  assert.notEqual(shell.code, 0);
  assert.match(shell.stderr, /needs the WebSocket protocol/);
});

function sink(into: Buffer[]): Writable {
  return new Writable({ write(chunk: Buffer, _enc, cb) { into.push(chunk); cb(); } });
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
