// Where the control plane finds the credential a Connection's secretRef names.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Credential } from '@chaperone/core/api';
import { ChaperoneError } from '@chaperone/core/errors';

export interface SecretRef {
  name: string;
  namespace?: string;
}

/** A Connection's `credentials.serviceAccount` (kubernetes connections). */
export interface ServiceAccountRef {
  namespace: string;
  name: string;
  expirationSeconds?: number;
}

/** Resolves a secretRef; undefined when the source does not hold it. */
export interface CredentialSource {
  get(ref: SecretRef): Promise<Credential | undefined>;
  /** A short-lived bearer token for a service account (token-request-source.ts); absent when the source cannot issue one. */
  serviceAccountToken?(ref: ServiceAccountRef): Promise<Extract<Credential, { type: 'bearer' }>>;
}

export const CREDENTIALS_ERR_FILE = 'CREDENTIALS_ERR_FILE';
export const CREDENTIALS_ERR_NO_TOKEN_SOURCE = 'CREDENTIALS_ERR_NO_TOKEN_SOURCE';

/** `namespace/name` first when the ref is namespaced, then the bare name. */
function keysFor(ref: SecretRef): string[] {
  return ref.namespace ? [`${ref.namespace}/${ref.name}`, ref.name] : [ref.name];
}

/**
 * A secret's keys as Kubernetes names them: `username` with `password` (basic-auth), or with
 * `ssh-privatekey` (kubernetes.io/ssh-auth) and an optional `passphrase`.
 */
export type SecretData = { username: string; password?: string; 'ssh-privatekey'?: string; passphrase?: string };
/** The older name of SecretData (a username and password is one of its shapes). */
export type UserPassword = SecretData;

/** The Credential a secret's keys make: an SSH key when it has `ssh-privatekey`, else a password. */
export function credentialFromSecret(data: Partial<SecretData>): { ok: true; credential: Credential } | { ok: false; missing: string } {
  const { username, password, passphrase } = data;
  const privateKey = data['ssh-privatekey'];
  if (!username) return { ok: false, missing: 'username' };
  if (privateKey !== undefined) return { ok: true, credential: { type: 'ssh-key', username, privateKey, ...(passphrase ? { passphrase } : {}) } };
  if (password !== undefined) return { ok: true, credential: { type: 'password', username, password } };
  return { ok: false, missing: 'password or ssh-privatekey' };
}

/** Credentials from configuration: secret name → username and password. */
export class StaticCredentialSource implements CredentialSource {
  private readonly secrets: ReadonlyMap<string, SecretData>;

  constructor(secrets: Record<string, SecretData>) {
    this.secrets = new Map(Object.entries(secrets));
  }

  async get(ref: SecretRef): Promise<Credential | undefined> {
    for (const key of keysFor(ref)) {
      const s = this.secrets.get(key);
      if (!s) continue;
      const c = credentialFromSecret(s);
      if (!c.ok) throw new ChaperoneError(CREDENTIALS_ERR_FILE, `secret ${key} has no ${c.missing}`);
      return c.credential;
    }
    return undefined;
  }
}

const fileSchema = z.record(z.string(), z.object({
  username: z.string().min(1), password: z.string().optional(), 'ssh-privatekey': z.string().min(1).optional(), passphrase: z.string().optional(),
}).refine((s) => s.password !== undefined || s['ssh-privatekey'] !== undefined, { message: 'needs password or ssh-privatekey' }));

/**
 * A YAML or JSON file mapping secret name → {username, password | ssh-privatekey [, passphrase]}. Read on every lookup, so a
 * rotated file takes effect at the next exchange without a restart.
 */
export class FileCredentialSource implements CredentialSource {
  constructor(readonly path: string) {}

  async get(ref: SecretRef): Promise<Credential | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      throw new ChaperoneError(CREDENTIALS_ERR_FILE, `cannot read credentials file ${this.path}: ${(err as Error).message}`, undefined, { cause: err });
    }
    let parsed: unknown;
    try {
      // YAML is a superset of JSON, so one parser reads both.
      parsed = parseYaml(text);
    } catch (err) {
      throw new ChaperoneError(CREDENTIALS_ERR_FILE, `credentials file ${this.path} is not YAML/JSON: ${(err as Error).message}`, undefined, { cause: err });
    }
    const r = fileSchema.safeParse(parsed ?? {});
    if (!r.success) {
      throw new ChaperoneError(CREDENTIALS_ERR_FILE, `credentials file ${this.path}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    return new StaticCredentialSource(r.data).get(ref);
  }
}

/** Asks each source in turn; the first that holds the secret answers. */
export class ChainedCredentialSource implements CredentialSource {
  constructor(private readonly sources: readonly CredentialSource[]) {}

  async get(ref: SecretRef): Promise<Credential | undefined> {
    for (const source of this.sources) {
      const c = await source.get(ref);
      if (c) return c;
    }
    return undefined;
  }

  /** The first source that issues service-account tokens; none issuing one is an error the exchange reports. */
  serviceAccountToken(ref: ServiceAccountRef): Promise<Extract<Credential, { type: 'bearer' }>> {
    for (const source of this.sources) {
      if (source.serviceAccountToken) return source.serviceAccountToken(ref);
    }
    return Promise.reject(new ChaperoneError(CREDENTIALS_ERR_NO_TOKEN_SOURCE, `no credential source issues service-account tokens (for ${ref.namespace}/${ref.name}): the control plane needs a Kubernetes identity`));
  }
}
