// One entry point for the server and the CLI: the TLS mode picks the certificate source.
import { startFileSource } from './file-source.js';
import type { FileSourceOptions } from './file-source.js';
import { startGeneratedSource } from './generated-source.js';
import type { GeneratedSourceOptions } from './generated-source.js';
import { startSecretSource } from './secret-source.js';
import type { SecretSourceOptions } from './secret-source.js';
import type { CertificateSource } from './source.js';

export type TlsSourceConfig =
  /** Default: own CA shared through a Secret, caBundle kept current, renewal built in. */
  | ({ mode: 'generate' } & GeneratedSourceOptions)
  /** A Secret another party (cert-manager) renews, read and watched through the API. */
  | ({ mode: 'secret' } & SecretSourceOptions)
  /** The same Secret mounted as files. */
  | ({ mode: 'files' } & FileSourceOptions);

export function startCertificateSource(config: TlsSourceConfig): Promise<CertificateSource> {
  switch (config.mode) {
    case 'generate': return startGeneratedSource(config);
    case 'secret': return startSecretSource(config);
    case 'files': return startFileSource(config);
  }
}
