// The sidecar's own short-lived CA and the serving certificate of its local Kubernetes API
// endpoint (node-forge; RSA because forge has no EC). The CA certificate is written where the
// webhook mounts it for agent containers (AGENT_CA_DIR in webhook/src/sidecar.ts).
import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import forge from 'node-forge';

/** What the webhook mounts into agent containers (webhook/src/sidecar.ts AGENT_CA_DIR). */
export const DEFAULT_KUBE_CA_DIR = '/var/run/secrets/chaperone-ca';

export interface LocalTls {
  /** PEM of the CA agents trust. */
  caCert: string;
  /** Serving certificate (PEM) for 127.0.0.1, ::1, localhost and the in-cluster service names. */
  cert: string;
  key: string;
  notAfter: Date;
}

/** The names in-cluster clients may dial: KUBERNETES_SERVICE_HOST is 127.0.0.1, but kubeconfigs may say otherwise. */
const DNS_NAMES = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'];
const IPS = ['127.0.0.1', '::1'];

function keyPair(): Promise<forge.pki.rsa.KeyPair> {
  return new Promise((resolve, reject) => {
    forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 }, (err, pair) => (err ? reject(err) : resolve(pair)));
  });
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString('hex');
}

// forge's default PrintableString is refused by Go for some characters; UTF8String is accepted.
function cn(value: string): forge.pki.CertificateField {
  return { name: 'commonName', value, valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class };
}

/**
 * A CA that signs exactly one serving certificate and is then forgotten (its key never leaves
 * memory): the pod lives shorter than `validityMs` (default 30 days), and a restarted sidecar
 * writes a new CA before its listener is up.
 */
export async function generateLocalTls(o: { validityMs?: number; now?: Date } = {}): Promise<LocalTls> {
  const now = o.now ?? new Date();
  const notBefore = new Date(now.getTime() - 5 * 60_000);
  const notAfter = new Date(Math.floor((now.getTime() + (o.validityMs ?? 30 * 86_400_000)) / 1000) * 1000);
  const [caKeys, keys] = await Promise.all([keyPair(), keyPair()]);
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = serial();
  ca.validity.notBefore = notBefore;
  ca.validity.notAfter = notAfter;
  const caName = [cn('chaperone sidecar local CA')];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([cn('localhost')]);
  cert.setIssuer(caName);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [...DNS_NAMES.map((value) => ({ type: 2, value })), ...IPS.map((ip) => ({ type: 7, ip }))] },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());
  const lf = (pem: string) => pem.replace(/\r\n/g, '\n');
  return { caCert: lf(forge.pki.certificateToPem(ca)), cert: lf(forge.pki.certificateToPem(cert)), key: lf(forge.pki.privateKeyToPem(keys.privateKey)), notAfter };
}

/** What an agent's client sends as its token: never forwarded, so not a secret (proxy.ts). */
export const PLACEHOLDER_TOKEN = 'chaperone-sidecar-placeholder';

/**
 * Writes `ca.crt`, and `token` and `namespace` beside it, each atomically (rename): the layout of
 * /var/run/secrets/kubernetes.io/serviceaccount, so the directory mounted there makes
 * client-go's and client-node's in-cluster configuration work unchanged. The token is a
 * placeholder: the sidecar drops whatever Authorization the agent sends.
 */
export async function writeCaBundle(dir: string, caCert: string, namespace?: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const files: [string, string][] = [['ca.crt', caCert], ['token', PLACEHOLDER_TOKEN]];
  if (namespace !== undefined) files.push(['namespace', namespace]);
  for (const [name, content] of files) {
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    await writeFile(tmp, content, { mode: 0o644 });
    await rename(tmp, join(dir, name));
  }
  return join(dir, 'ca.crt');
}
