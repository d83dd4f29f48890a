// The key of the `hash` mask strategy: one 32-byte key per installation, the same on every
// replica and across restarts, so hashed values join and group alike in every session.
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { cpError } from './errors.js';
import type { Store } from './store/store.js';

export const MASK_KEY_BYTES = 32;
/** Purpose of the key's row among the store's signing keys. */
const PURPOSE = 'mask';

/** A configured key: base64 or base64url of exactly 32 bytes; undefined when it is not one. */
export function decodeMaskKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(trimmed)) return undefined;
  const key = Buffer.from(trimmed.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''), 'base64url');
  return key.length === MASK_KEY_BYTES ? key : undefined;
}

export interface MaskKeyConfig {
  /** base64 of 32 bytes. */
  maskKey?: string | undefined;
  /** A file holding that base64 text (a mounted Secret). */
  maskKeyFile?: string | undefined;
}

/**
 * The configured key (maskKey, or the file maskKeyFile), else the store's, created once. Replicas
 * sharing a store share its key; installs with separate stores that must hash alike configure one.
 */
export async function loadMaskKey(store: Pick<Store, 'signingKeys' | 'addSigningKey'>, config: MaskKeyConfig = {}): Promise<Buffer> {
  if (config.maskKey !== undefined || config.maskKeyFile !== undefined) {
    const text = config.maskKey ?? await readFile(config.maskKeyFile ?? '', 'utf8');
    const key = decodeMaskKey(text);
    if (!key) throw cpError('CONFIG_ERR_INVALID', `${config.maskKey !== undefined ? 'maskKey' : `maskKeyFile ${config.maskKeyFile}`} must be the base64 of ${MASK_KEY_BYTES} bytes`);
    return key;
  }
  let stored = await store.signingKeys(PURPOSE);
  if (stored.length === 0) {
    const key = randomBytes(MASK_KEY_BYTES);
    const kid = `mask-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
    await store.addSigningKey(PURPOSE, kid, { kty: 'oct', k: key.toString('base64url'), use: 'mask' });
    // Another replica may have added one at the same moment; the oldest wins for both.
    stored = await store.signingKeys(PURPOSE);
  }
  const k = stored[0]?.privateJwk['k'];
  const key = typeof k === 'string' ? Buffer.from(k, 'base64url') : undefined;
  if (!key || key.length !== MASK_KEY_BYTES) throw cpError('CONFIG_ERR_INVALID', `the stored mask key ${stored[0]?.kid ?? ''} is malformed`);
  return key;
}
