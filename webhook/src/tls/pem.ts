// PEM helpers on node:crypto: split bundles, read expiry, check that a certificate and key belong
// together. Malformed input comes back as a value, never as a throw.
import { X509Certificate, createPrivateKey } from 'node:crypto';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, each normalised to end with a newline. */
export function splitPemBundle(text: string): string[] {
  return (text.match(PEM_CERT) ?? []).map((c) => `${c}\n`);
}

export function joinPemBundle(certs: readonly string[]): string {
  return certs.map((c) => (c.endsWith('\n') ? c : `${c}\n`)).join('');
}

export type ParsedPair =
  | { ok: true; notAfter: Date; x509: X509Certificate }
  | { ok: false; error: string };

export type ParsedCert = { ok: true; x509: X509Certificate; notAfter: Date } | { ok: false; error: string };

export function parseCertificate(pem: string): ParsedCert {
  try {
    const x509 = new X509Certificate(pem);
    return { ok: true, x509, notAfter: new Date(x509.validTo) };
  } catch (err) {
    return { ok: false, error: `not a PEM certificate: ${(err as Error).message}` };
  }
}

/** Checks that `cert` parses and that `key` is its private key (the first certificate of a chain). */
export function parseServingPair(cert: string, key: string): ParsedPair {
  const first = splitPemBundle(cert)[0];
  if (first === undefined) return { ok: false, error: 'no PEM certificate found' };
  const parsed = parseCertificate(first);
  if (!parsed.ok) return parsed;
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    return { ok: false, error: `not a PEM private key: ${(err as Error).message}` };
  }
  if (!parsed.x509.checkPrivateKey(privateKey)) return { ok: false, error: 'the private key does not match the certificate' };
  return { ok: true, notAfter: parsed.notAfter, x509: parsed.x509 };
}
