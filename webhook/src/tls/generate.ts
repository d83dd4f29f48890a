// Generates the webhook's own CA and serving certificates with node-forge (RSA 2048: forge has
// no EC); the key pairs come from node's native generator, which forge uses when it is there.
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import type { ServingCertificate } from './source.js';

const DAY_MS = 86_400_000;
export const DEFAULT_CA_VALIDITY_MS = 365 * DAY_MS;
export const DEFAULT_SERVING_VALIDITY_MS = 90 * DAY_MS;
/** notBefore is set this far back so a replica or API server with a clock slightly behind accepts a fresh certificate. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** A CA that can sign: both halves as PEM, and its expiry. */
export interface CertificateAuthority {
  cert: string;
  key: string;
  notAfter: Date;
}

export interface CaOptions {
  commonName?: string;
  validityMs?: number;
  now?: Date;
}

export interface ServingOptions {
  /** subjectAltName DNS entries; the first is also the subject CN. */
  dnsNames: readonly string[];
  /** subjectAltName IP entries (tests: 127.0.0.1). */
  ipAddresses?: readonly string[];
  validityMs?: number;
  now?: Date;
}

/** The DNS names the API server uses to reach a webhook Service (`clientConfig.service`). */
export function serviceDnsNames(service: string, namespace: string, clusterDomain = 'cluster.local'): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.${clusterDomain}`];
}

/** forge writes CRLF; the rest of the world (and string comparisons of bundles) uses LF. */
function lf(pem: string): string {
  return pem.replace(/\r\n/g, '\n');
}

function generateKeyPair(): Promise<forge.pki.rsa.KeyPair> {
  return new Promise((resolve, reject) => {
    forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 }, (err, pair) => (err ? reject(err) : resolve(pair)));
  });
}

/**
 * forge encodes names as PrintableString by default, which Go (the API server) refuses for any
 * character outside its small set (`@`, `_`, `*`...): "invalid RDNSequence". UTF8String takes anything.
 */
function commonName(value: string): forge.pki.CertificateField {
  return { name: 'commonName', value, valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class };
}

/** A random positive serial (RFC 5280 4.1.2.2: positive, at most 20 octets). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, now: Date, validityMs: number, cap?: Date): Date {
  cert.validity.notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  let notAfter = new Date(now.getTime() + validityMs);
  if (cap && cap < notAfter) notAfter = cap;
  // X.509 times have whole seconds; round down so the returned Date equals what the certificate says.
  notAfter = new Date(Math.floor(notAfter.getTime() / 1000) * 1000);
  cert.validity.notAfter = notAfter;
  return notAfter;
}

/** A self-signed CA certificate for signing serving certificates only (pathLen 0). */
export async function generateCa(o: CaOptions = {}): Promise<CertificateAuthority> {
  const keys = await generateKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  const notAfter = validity(cert, o.now ?? new Date(), o.validityMs ?? DEFAULT_CA_VALIDITY_MS);
  const name = [commonName(o.commonName ?? `chaperone-webhook-ca-${Math.floor((o.now ?? new Date()).getTime() / 1000)}`)];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: lf(forge.pki.certificateToPem(cert)), key: lf(forge.pki.privateKeyToPem(keys.privateKey)), notAfter };
}

/** A serving certificate signed by `ca`; it never outlives the CA. */
export async function issueServingCertificate(ca: CertificateAuthority, o: ServingOptions): Promise<ServingCertificate> {
  const first = o.dnsNames[0] ?? o.ipAddresses?.[0];
  if (first === undefined) throw new TypeError('a serving certificate needs at least one DNS name or IP address');
  for (const ip of o.ipAddresses ?? []) if (isIP(ip) === 0) throw new TypeError(`not an IP address: ${ip}`);
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const keys = await generateKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  const notAfter = validity(cert, o.now ?? new Date(), o.validityMs ?? DEFAULT_SERVING_VALIDITY_MS, ca.notAfter);
  cert.setSubject([commonName(first)]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    // Go's verifier (the API server) ignores the CN: the names must be SANs.
    { name: 'subjectAltName', altNames: [
      ...o.dnsNames.map((value) => ({ type: 2, value })),
      ...(o.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
    ] },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: lf(forge.pki.certificateToPem(cert)), key: lf(forge.pki.privateKeyToPem(keys.privateKey)), ca: ca.cert, notAfter };
}
