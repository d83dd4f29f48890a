// Test harness: a real kube-apiserver on etcd (envtest-style, no kubelet or controllers) in a temp
// dir on loopback ports, with a CA, an admin client certificate and a kubeconfig for kubectl/helm.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, run } from './postgres.js';
import { toolPath } from './tools.js';

export interface KubeApiServer {
  /** https://127.0.0.1:<port> */
  url: string;
  /** A kubeconfig whose only user is `admin` in group system:masters (passes RBAC). */
  kubeconfigPath: string;
  /** The CA that signed the serving and admin certificates; sign other users' certificates with it. */
  caCertPath: string;
  caKeyPath: string;
  /** Runs kubectl against this server as admin. */
  kubectl(args: string[], o?: { input?: string }): ReturnType<typeof run>;
  /** Stops kube-apiserver, then etcd, and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface KubeOptions {
  /** How long etcd and kube-apiserver may take to become ready before start fails. */
  startTimeoutMs?: number;
}

const OPENSSL_HINT = 'install openssl (apt-get install openssl)';

/** openssl config for the test CA: a v3 CA certificate Go's verifier accepts. */
const CA_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = chaperone-test-ca
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
`;

async function openssl(dir: string, args: string[]): Promise<void> {
  const r = await run('openssl', args, { env: { OPENSSL_CONF: join(dir, 'ca.cnf') } });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || OPENSSL_HINT}`);
}

/** Issues <name>.crt/.key signed by the CA in dir; `subject` like "/O=system:masters/CN=admin". */
export async function issueCertificate(dir: string, name: string, subject: string, extensions: string): Promise<void> {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  await openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.csr`), '-subj', subject]);
  await openssl(dir, ['x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'),
    '-CAcreateserial', '-days', '2', '-out', join(dir, `${name}.crt`), '-extfile', ext]);
}

async function makePki(dir: string): Promise<void> {
  writeFileSync(join(dir, 'ca.cnf'), CA_CONFIG);
  await openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'),
    '-days', '2', '-extensions', 'v3_ca']);
  await issueCertificate(dir, 'serving', '/CN=kube-apiserver', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await issueCertificate(dir, 'admin', '/O=system:masters/CN=admin', 'extendedKeyUsage=clientAuth\n');
  // Service-account tokens are signed with this key and verified with its public half.
  await openssl(dir, ['genrsa', '-out', join(dir, 'sa.key'), '2048']);
  await openssl(dir, ['rsa', '-in', join(dir, 'sa.key'), '-pubout', '-out', join(dir, 'sa.pub')]);
}

function kubeconfig(url: string, dir: string): string {
  // JSON is YAML, so kubectl and helm read it as is.
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: url, 'certificate-authority': join(dir, 'ca.crt') } }],
    users: [{ name: 'admin', user: { 'client-certificate': join(dir, 'admin.crt'), 'client-key': join(dir, 'admin.key') } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'admin' } }],
    'current-context': 'test',
  }, null, 2);
}

/** A child process whose output goes to a log file, so a failed start can show why. */
interface Daemon { name: string; child: ChildProcess; log: string; exited: boolean }

function startDaemon(name: string, cmd: string, args: string[], log: string): Daemon {
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const d: Daemon = { name, child, log, exited: false };
  child.once('exit', () => { d.exited = true; });
  child.once('error', () => { d.exited = true; });
  return d;
}

function logTail(d: Daemon): string {
  const text = existsSync(d.log) ? readFileSync(d.log, 'utf8') : '';
  return text.split('\n').slice(-30).join('\n');
}

async function stopDaemon(d: Daemon): Promise<void> {
  if (d.exited || d.child.exitCode !== null || d.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => d.child.once('exit', () => resolve()));
  d.child.kill('SIGTERM');
  const timer = new AbortController();
  const done = await Promise.race([
    exited.then(() => true),
    sleep(15_000, undefined, { signal: timer.signal }).then(() => false, () => true),
  ]);
  timer.abort(); // a pending timer would keep the test process alive
  if (!done) {
    d.child.kill('SIGKILL');
    await exited;
  }
}

type Probe = () => Promise<boolean>;

function httpOk(url: string, tls?: { ca: Buffer; cert: Buffer; key: Buffer }): Probe {
  return () => new Promise((resolve) => {
    const req = (tls ? request : httpRequest)(url, { ...tls, agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode === 200));
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => req.destroy());
    req.end();
  });
}

/** Polls until `ready` or fails with the log tail of a daemon that exited or never got ready. */
async function waitReady(what: string, ready: Probe, daemons: Daemon[], deadline: number): Promise<void> {
  for (;;) {
    const dead = daemons.find((d) => d.exited);
    if (dead) throw new Error(`${dead.name} exited while waiting for ${what}:\n${logTail(dead)}`);
    if (await ready()) return;
    if (Date.now() > deadline) {
      throw new Error(`${what} not ready in time:\n${daemons.map((d) => `--- ${d.name}\n${logTail(d)}`).join('\n')}`);
    }
    await sleep(250);
  }
}

export async function startKubeApiServer(o: KubeOptions = {}): Promise<KubeApiServer> {
  const bins = { etcd: toolPath('etcd'), apiserver: toolPath('kube-apiserver'), kubectl: toolPath('kubectl') };
  const dir = mkdtempSync(join(tmpdir(), 'chaperone-kube-'));
  const daemons: Daemon[] = [];
  const killAll = (): void => { for (const d of daemons) if (!d.exited) d.child.kill('SIGKILL'); };
  // If the test process dies without stop(), leave no servers behind.
  process.once('exit', killAll);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killAll);
    // kube-apiserver first: it would otherwise spend its shutdown retrying a vanished etcd.
    for (const d of [...daemons].reverse()) await stopDaemon(d);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await makePki(dir);
    const deadline = Date.now() + (o.startTimeoutMs ?? 180_000);
    const [clientPort, peerPort, securePort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    daemons.push(startDaemon('etcd', bins.etcd, [
      '--name=default', `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=default=${peerUrl}`,
      // Throw-away data: skip fsync so start-up and writes do not wait on the disk.
      '--unsafe-no-fsync', '--log-level=warn',
    ], join(dir, 'etcd.log')));
    await waitReady('etcd /health', httpOk(`${etcdUrl}/health`), daemons, deadline);

    const url = `https://127.0.0.1:${securePort}`;
    const certDir = join(dir, 'apiserver-certs');
    mkdirSync(certDir);
    daemons.push(startDaemon('kube-apiserver', bins.apiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${securePort}`,
      // The endpoint reconciler refuses a loopback advertise address; nothing here routes to the
      // kubernetes Service anyway (no kubelet, no kube-proxy).
      '--endpoint-reconciler-type=none',
      `--cert-dir=${certDir}`, `--tls-cert-file=${join(dir, 'serving.crt')}`, `--tls-private-key-file=${join(dir, 'serving.key')}`,
      // Users are client certificates signed by the test CA; admin is in system:masters, others go through RBAC.
      `--client-ca-file=${join(dir, 'ca.crt')}`, '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(dir, 'sa.pub')}`, `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.0.0.0/24', '--allow-privileged=true',
      // Webhooks are what chaperone installs. Without kube-controller-manager no default
      // ServiceAccount exists, so the ServiceAccount plugin would refuse every pod: tests create
      // their service accounts themselves.
      '--enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
      '--disable-admission-plugins=ServiceAccount',
    ], join(dir, 'kube-apiserver.log')));
    const tls = { ca: readFileSync(join(dir, 'ca.crt')), cert: readFileSync(join(dir, 'admin.crt')), key: readFileSync(join(dir, 'admin.key')) };
    await waitReady('kube-apiserver /readyz', httpOk(`${url}/readyz`, tls), daemons, deadline);

    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfig(url, dir));
    return {
      url,
      kubeconfigPath,
      caCertPath: join(dir, 'ca.crt'),
      caKeyPath: join(dir, 'ca.key'),
      kubectl: (args, ko = {}) => run(bins.kubectl, ['--kubeconfig', kubeconfigPath, ...args], ko),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
