// A certificate from files, typically a Secret mounted into the pod (tls.crt, tls.key, ca.crt).
// The kubelet swaps the folder's `..data` symlink on update, so the folder is watched; fs.watch is
// not reliable on every file system, so a poll of the (small) files backs it up.
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChaperoneError } from '@chaperone/core/errors';
import { CertificateHolder } from './holder.js';
import type { Material } from './holder.js';
import { silentLogger } from './source.js';
import type { CertificateSource, ServingCertificate, TlsLogger } from './source.js';

export interface FileSourceOptions {
  dir: string;
  certFile?: string;
  keyFile?: string;
  /** Optional: without it `ca` is ''. */
  caFile?: string;
  /** Default 10 s. */
  pollIntervalMs?: number;
  logger?: TlsLogger;
}

/** Events come in bursts during one update; read once they settle. */
const DEBOUNCE_MS = 100;

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

class FileSource implements CertificateSource {
  readonly #paths: { cert: string; key: string; ca: string };
  readonly #holder: CertificateHolder;
  readonly #logger: TlsLogger;
  readonly #pollMs: number;
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #reading: Promise<void> | undefined;
  /** A change arrived while reading: read once more afterwards, so the last update is never missed. */
  #again = false;
  #closed = false;

  constructor(readonly o: FileSourceOptions) {
    this.#paths = {
      cert: join(o.dir, o.certFile ?? 'tls.crt'),
      key: join(o.dir, o.keyFile ?? 'tls.key'),
      ca: join(o.dir, o.caFile ?? 'ca.crt'),
    };
    this.#logger = o.logger ?? silentLogger;
    this.#pollMs = o.pollIntervalMs ?? 10_000;
    this.#holder = new CertificateHolder(`files in ${o.dir}`, this.#logger);
  }

  current(): ServingCertificate {
    return this.#holder.require();
  }

  onRotate(fn: (c: ServingCertificate) => void): void {
    this.#holder.onRotate(fn);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    clearInterval(this.#poll);
    clearTimeout(this.#debounce);
    await this.#reading;
  }

  async #material(): Promise<Material> {
    const [cert, key, ca] = await Promise.all([readOptional(this.#paths.cert), readOptional(this.#paths.key), readOptional(this.#paths.ca)]);
    return { cert, key, ca };
  }

  async start(): Promise<void> {
    let m: Material;
    try {
      m = await this.#material();
    } catch (err) {
      throw new ChaperoneError('WEBHOOK_ERR_TLS_FILES', `cannot read the certificate files in ${this.o.dir}: ${(err as Error).message}`, undefined, { cause: err });
    }
    const r = this.#holder.offer(m);
    if (r.kind === 'refused') throw new ChaperoneError('WEBHOOK_ERR_TLS_FILES', `the certificate files in ${this.o.dir} are unusable: ${r.error}`);
    try {
      this.#watcher = watch(this.o.dir, () => this.#soon());
      this.#watcher.on('error', (err) => this.#logger.warn({ err }, 'certificate folder watch failed; polling only'));
    } catch (err) {
      this.#logger.warn({ err }, 'cannot watch the certificate folder; polling only');
    }
    this.#poll = setInterval(() => this.#reload(), this.#pollMs);
    this.#poll.unref();
  }

  #soon(): void {
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => this.#reload(), DEBOUNCE_MS);
    this.#debounce.unref();
  }

  #reload(): void {
    if (this.#closed) return;
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#reading = this.#material().then(
      (m) => { if (!this.#closed) this.#holder.offer(m); },
      (err: unknown) => this.#logger.warn({ err }, 'cannot read the certificate files; keeping the current certificate'),
    ).finally(() => {
      this.#reading = undefined;
      if (this.#again) {
        this.#again = false;
        this.#reload();
      }
    });
  }
}

export async function startFileSource(o: FileSourceOptions): Promise<CertificateSource> {
  const s = new FileSource(o);
  await s.start();
  return s;
}
