// Shared by the Secret and file sources: holds the current certificate, ignores unchanged or
// broken material (a half-written update is common), and tells listeners about real changes.
import { ChaperoneError } from '@chaperone/core/errors';
import { parseServingPair } from './pem.js';
import type { ServingCertificate, TlsLogger } from './source.js';

/** What a cert-manager Secret or a mounted Secret folder holds (`tls.crt`, `tls.key`, `ca.crt`). */
export interface Material {
  cert: string | undefined;
  key: string | undefined;
  ca: string | undefined;
}

export type Loaded = { ok: true; serving: ServingCertificate } | { ok: false; error: string };

export function loadMaterial(m: Material): Loaded {
  if (!m.cert) return { ok: false, error: 'tls.crt missing or empty' };
  if (!m.key) return { ok: false, error: 'tls.key missing or empty' };
  const pair = parseServingPair(m.cert, m.key);
  if (!pair.ok) return pair;
  return { ok: true, serving: { cert: m.cert, key: m.key, ca: m.ca ?? '', notAfter: pair.notAfter } };
}

export class CertificateHolder {
  readonly #listeners: ((c: ServingCertificate) => void)[] = [];
  readonly #logger: TlsLogger;
  readonly #where: string;
  #current: ServingCertificate | undefined;

  constructor(where: string, logger: TlsLogger) {
    this.#where = where;
    this.#logger = logger;
  }

  get current(): ServingCertificate | undefined {
    return this.#current;
  }

  /** The current certificate, for CertificateSource.current(); a source that has not started throws. */
  require(): ServingCertificate {
    if (!this.#current) throw new ChaperoneError('WEBHOOK_ERR_TLS_NOT_STARTED', 'the certificate source has not started');
    return this.#current;
  }

  onRotate(fn: (c: ServingCertificate) => void): void {
    this.#listeners.push(fn);
  }

  /** Takes new material; 'changed' after listeners ran, 'same' when nothing changed, or why it was refused. */
  offer(m: Material): { kind: 'changed' | 'same' } | { kind: 'refused'; error: string } {
    const cur = this.#current;
    if (cur && m.cert === cur.cert && m.key === cur.key && (m.ca ?? '') === cur.ca) return { kind: 'same' };
    const loaded = loadMaterial(m);
    if (!loaded.ok) {
      this.#logger.warn({ source: this.#where, error: loaded.error }, 'ignoring unusable webhook certificate; keeping the current one');
      return { kind: 'refused', error: loaded.error };
    }
    this.#current = loaded.serving;
    if (!cur) return { kind: 'changed' };
    this.#logger.info({ source: this.#where, notAfter: loaded.serving.notAfter.toISOString() }, 'webhook certificate changed');
    for (const fn of this.#listeners) {
      try {
        fn(loaded.serving);
      } catch (err) {
        this.#logger.error({ err }, 'certificate rotation listener failed');
      }
    }
    return { kind: 'changed' };
  }
}
