// The certificate-source contract the webhook's HTTPS server consumes: the current serving
// certificate, a rotation callback and a way to stop background work.

/** PEM texts and the serving certificate's expiry (for the expiry gauge and for renewal). */
export interface ServingCertificate {
  /** The serving certificate (PEM). */
  cert: string;
  /** Its private key (PEM, PKCS#8 or PKCS#1). */
  key: string;
  /** The CA that issued `cert` (PEM); '' when the source does not know it (a Secret without ca.crt). */
  ca: string;
  /** `cert`'s notAfter. */
  notAfter: Date;
}

export interface CertificateSource {
  /** The certificate to serve now; always valid PEM once the source has started. */
  current(): ServingCertificate;
  /** Called after `current()` changed; listeners that throw are logged, never break rotation. */
  onRotate(fn: (c: ServingCertificate) => void): void;
  /** Stops timers and watches; resolves when in-flight work has finished. */
  close(): Promise<void>;
}

/** The subset of pino's logger a source writes to (pino's Logger fits). */
export interface TlsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: TlsLogger = { info() {}, warn() {}, error() {} };
