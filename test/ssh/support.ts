// Set-up for the SSH tests: the harness's real sshd, the real control plane (buildTestApp) holding
// the target's key, a real sidecar with its SSH listeners, and the real OpenSSH client tools.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Approval } from '@chaperone/core/api';
import type { PolicyDoc } from '@chaperone/core/policy/types';
import type { RecordEvent } from '@chaperone/core/records/types';
import { startTestPostgres } from '@chaperone/control-plane/testing/embedded';
import type { TestPostgres } from '@chaperone/control-plane/testing/embedded';
import { buildTestApp } from '@chaperone/control-plane/testing/app';
import type { TestApp } from '@chaperone/control-plane/testing/app';
import { runSidecar } from '@chaperone/sidecar/sidecar';
import type { RunningSidecar } from '@chaperone/sidecar/sidecar';
import { freePort, startSshd } from '../harness/sshd.js';
import type { SshServer } from '../harness/sshd.js';

export const ADMIN_TOKEN = 'ssh-test-admin-token-0123456789abcdef';
/** Full access but for the deny/approve rules. */
export const BOX = 'box';
/** The same host, file-write denied. */
export const READONLY = 'box-readonly';
/** The same host, but the Connection names another host key. */
export const WRONG_KEY = 'box-wrong-key';
/** A port nothing listens on. */
export const DOWN = 'box-down';
/** The same host, agent forwarding allowed. */
export const AGENT = 'box-agent';
/** The same host, each file written needs an approval. */
export const HELD_FILES = 'box-held-files';

export const DENY_MESSAGE = 'no deleting on the box';

function policyDocs(sshd: SshServer, otherKey: string, downPort: number): PolicyDoc[] {
  const conn = (name: string, target: Record<string, unknown>): PolicyDoc => ({
    apiVersion: 'chaperone.dev/v1alpha1', kind: 'Connection', metadata: { name },
    spec: { type: 'ssh', target: { host: sshd.host, port: sshd.port, user: sshd.user, hostKey: sshd.hostKey, ...target } as never, credentials: { secretRef: { name: 'box-key' } }, listen: { port: 2222 } },
  });
  return [
    conn(BOX, {}), conn(READONLY, {}), conn(WRONG_KEY, { hostKey: otherKey }), conn(DOWN, { port: downPort }), conn(AGENT, {}), conn(HELD_FILES, {}),
    {
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'agents-ssh' },
      spec: {
        subjects: [{ serviceAccount: { namespace: 'agents', name: 'bot' } }],
        connections: [BOX, READONLY, WRONG_KEY, DOWN, AGENT, HELD_FILES],
        rules: [
          { action: 'deny', match: { commands: ['rm', 'shutdown'] }, message: DENY_MESSAGE },
          { action: 'deny', match: { commands: ['systemctl restart *'] } },
          { action: 'approve', match: { commands: ['touch *held*'] }, approvers: ['group:sre'], timeout: '60s', message: 'touching held files needs an SRE' },
        ],
        default: 'allow',
      },
    },
    {
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'agents-readonly' },
      spec: {
        subjects: [{ serviceAccount: { namespace: 'agents', name: 'bot' } }],
        connections: [READONLY],
        rules: [{ action: 'deny', match: { operations: ['file-write'] }, message: 'read-only box' }],
        default: 'allow',
      },
    },
    {
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'agents-forward' },
      spec: {
        subjects: [{ serviceAccount: { namespace: 'agents', name: 'bot' } }],
        connections: [AGENT],
        rules: [{ action: 'allow', name: 'agent-forwarding', match: { operations: ['agent-forward'] } }],
        default: 'allow',
      },
    },
    {
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'agents-held-files' },
      spec: {
        subjects: [{ serviceAccount: { namespace: 'agents', name: 'bot' } }],
        connections: [HELD_FILES],
        rules: [{ action: 'approve', match: { operations: ['file-write'] }, approvers: ['group:sre'], timeout: '60s', message: 'writing files needs an SRE' }],
        default: 'allow',
      },
    },
  ];
}

export interface Stack {
  sshd: SshServer;
  pg: TestPostgres;
  cp: TestApp;
  sidecar: RunningSidecar;
  dir: string;
  /** The policy documents the control plane started with. */
  docs: PolicyDoc[];
  port(connection: string): number;
  /** The OpenSSH client as the agent runs it: no key, no known host, through the sidecar. */
  ssh(connection: string, args: string[], o?: RunOptions): Promise<RunResult>;
  /** The same straight to sshd with the real key, to compare. */
  sshDirect(args: string[], o?: RunOptions): Promise<RunResult>;
  scp(connection: string, args: string[]): Promise<RunResult>;
  sftp(connection: string, batch: string): Promise<RunResult>;
  /** Every record of this connection's sessions, as the control plane stores them. */
  events(connection: string): Promise<RecordEvent[]>;
  /** The same, one array per session. */
  sessions(connection: string): Promise<RecordEvent[][]>;
  stop(): Promise<void>;
}

export interface RunResult { code: number | null; signal: string | null; stdout: string; stderr: string }
export interface RunOptions { input?: string; timeoutMs?: number; env?: Record<string, string> }

export function run(cmd: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const env = o.env ? { env: { ...process.env, ...o.env } } : {};
    const child = execFile(cmd, args, { timeout: o.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, ...env }, (_err, stdout, stderr) => {
      resolve({ code: child.exitCode, signal: child.signalCode, stdout: String(stdout), stderr: String(stderr) });
    });
    // Always end stdin: ssh would otherwise wait on it. A program that exits without reading it
    // (ssh-add, ssh-keygen) closes the pipe first: that EPIPE is not the test's failure.
    child.stdin?.on('error', () => {});
    child.stdin?.end(o.input ?? '');
  });
}

export const CLIENT_OPTIONS = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20'];

export async function startStack(): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'chaperone-ssh-'));
  const sshd = await startSshd({ config: ['AcceptEnv LD_PRELOAD'] });
  const other = await startSshd();
  const otherKey = other.hostKey;
  await other.stop();
  const downPort = await freePort();
  const pg = await startTestPostgres();
  const docs = policyDocs(sshd, otherKey, downPort);
  const cp = await buildTestApp(pg.url, {
    docs, adminToken: ADMIN_TOKEN,
    secrets: { 'box-key': { username: sshd.user, 'ssh-privatekey': sshd.clientKey } },
  });
  const url = await cp.app.listen({ host: '127.0.0.1', port: 0 });
  const sidecar = await runSidecar({
    controlPlane: { url }, token: { type: 'dev', namespace: 'agents', serviceAccount: 'bot' },
    spoolDir: join(dir, 'spool'), admin: { host: '127.0.0.1', port: 0 },
    ports: { [BOX]: 0, [READONLY]: 0, [WRONG_KEY]: 0, [DOWN]: 0, [AGENT]: 0, [HELD_FILES]: 0 }, logLevel: 'silent',
  });
  await sidecar.ready;
  const port = (connection: string) => {
    const p = sidecar.ports[connection];
    if (p === undefined) throw new Error(`the sidecar has no listener for ${connection}`);
    return p;
  };
  const sessions = async (connection: string): Promise<RecordEvent[][]> => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const list = await cp.app.inject({ method: 'GET', url: `/v1/sessions?connection=${connection}&limit=500`, headers: auth });
    if (list.statusCode !== 200) throw new Error(`sessions: ${list.statusCode} ${list.body}`);
    const all: RecordEvent[][] = [];
    for (const session of list.json() as { id: string }[]) {
      const detail = await cp.app.inject({ method: 'GET', url: `/v1/sessions/${session.id}`, headers: auth });
      all.push((detail.json() as { records: { event: RecordEvent }[] }).records.map((r) => r.event));
    }
    return all;
  };
  const through = (connection: string) => ['-p', String(port(connection)), ...CLIENT_OPTIONS];
  return {
    sshd, pg, cp, sidecar, dir, docs, port,
    ssh: (connection, args, o) => run('/usr/bin/ssh', [...through(connection), 'agent@127.0.0.1', ...args], o),
    sshDirect: (args, o) => run('/usr/bin/ssh', ['-p', String(sshd.port), '-i', sshd.clientKeyPath, ...CLIENT_OPTIONS, `${sshd.user}@127.0.0.1`, ...args], o),
    scp: (connection, args) => run('/usr/bin/scp', ['-P', String(port(connection)), ...CLIENT_OPTIONS, ...args]),
    sftp: (connection, batch) => run('/usr/bin/sftp', ['-P', String(port(connection)), ...CLIENT_OPTIONS, '-b', '-', 'agent@127.0.0.1'], { input: batch }),
    sessions,
    events: async (connection) => (await sessions(connection)).flat(),
    async stop() {
      await sidecar.close();
      await cp.close();
      await pg.stop();
      await sshd.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls the control plane until `find` returns something (records are shipped asynchronously). */
export async function eventually<T>(what: string, find: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function pendingApproval(cp: TestApp, command: string): Promise<Approval> {
  return eventually(`a pending approval for ${command}`, async () => {
    const res = await cp.app.inject({ method: 'GET', url: '/v1/approvals?state=pending', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    return (res.json() as Approval[]).find((a) => a.operation.kind === 'command' && a.operation.command === command);
  });
}

export async function decide(cp: TestApp, id: string, decision: 'approve' | 'deny', reason = 'decided by the test'): Promise<void> {
  const res = await cp.app.inject({ method: 'POST', url: `/v1/approvals/${id}/decision`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { decision, reason } });
  if (res.statusCode !== 200) throw new Error(`decide ${id}: ${res.statusCode} ${res.body}`);
}
