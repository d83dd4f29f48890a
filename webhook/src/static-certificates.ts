// A certificate source that holds what it is given and rotates on request: for tests, the bench and
// local runs on loopback (the real sources, generated / Secret / files, are in tls/).
import { generateCa, issueServingCertificate } from './tls/generate.js';
import type { CertificateSource, ServingCertificate } from './tls/source.js';

export interface StaticCertificates extends CertificateSource {
  /** Replaces the certificate and tells the listeners, like a renewal would. */
  rotate(c: ServingCertificate): void;
}

export function staticCertificates(initial: ServingCertificate): StaticCertificates {
  let current = initial;
  const listeners: ((c: ServingCertificate) => void)[] = [];
  return {
    current: () => current,
    onRotate: (fn) => { listeners.push(fn); },
    rotate(c) {
      current = c;
      for (const fn of listeners) fn(c);
    },
    close: async () => {},
  };
}

/** A fresh CA and a serving certificate for 127.0.0.1 and localhost, signed by it (`ca` in the result). */
export async function loopbackCertificate(): Promise<ServingCertificate> {
  const ca = await generateCa({ commonName: 'chaperone-webhook-loopback-ca' });
  return issueServingCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
}
