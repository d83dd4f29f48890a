// SCRAM-SHA-256 client (RFC 5802, RFC 7677) as PostgreSQL speaks it, without channel binding.
// PostgreSQL ignores the SCRAM user name (it uses the startup user), so it is sent empty like libpq.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';

/** "n,," — the client does not support channel binding (valid even when the server offers -PLUS). */
const GS2_HEADER = 'n,,';

export interface ScramClientFirst { message: string; bare: string; nonce: string }

export type ScramFinal =
  | { ok: true; message: string; serverSignature: Buffer }
  | { ok: false; error: string };

export function scramClientFirst(nonce: string = randomBytes(18).toString('base64'), user = ''): ScramClientFirst {
  const bare = `n=${user.replaceAll('=', '=3D').replaceAll(',', '=2C')},r=${nonce}`;
  return { message: GS2_HEADER + bare, bare, nonce };
}

function parseAttributes(msg: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of msg.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0] as string, part.slice(2));
  }
  return out;
}

const hmac = (key: Buffer, data: string | Buffer): Buffer => createHmac('sha256', key).update(data).digest();

/**
 * Password preparation. RFC 7677 asks for SASLprep; for ASCII passwords it is the identity, and for
 * others NFKC is the core of it (libpq likewise falls back to the raw bytes when SASLprep fails).
 */
function preparePassword(password: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(password) ? password : password.normalize('NFKC');
}

/** Computes client-final-message from the server-first-message. */
export function scramClientFinal(password: string, first: ScramClientFirst, serverFirst: string): ScramFinal {
  const attrs = parseAttributes(serverFirst);
  const nonce = attrs.get('r'); const salt = attrs.get('s'); const iterText = attrs.get('i');
  if (attrs.has('e')) return { ok: false, error: `server error: ${attrs.get('e')}` };
  if (!nonce || !salt || !iterText) return { ok: false, error: 'malformed SCRAM server-first-message' };
  if (!nonce.startsWith(first.nonce) || nonce.length <= first.nonce.length) return { ok: false, error: 'SCRAM server nonce does not extend the client nonce' };
  const iterations = Number(iterText);
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > 10_000_000) return { ok: false, error: 'invalid SCRAM iteration count' };
  const saltBytes = Buffer.from(salt, 'base64');
  if (saltBytes.length === 0) return { ok: false, error: 'invalid SCRAM salt' };

  const salted = pbkdf2Sync(preparePassword(password), saltBytes, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${nonce}`;
  const authMessage = `${first.bare},${serverFirst},${withoutProof}`;
  const clientSignature = hmac(storedKey, authMessage);
  const proof = Buffer.alloc(32);
  for (let k = 0; k < 32; k++) proof[k] = (clientKey[k] as number) ^ (clientSignature[k] as number);
  const serverKey = hmac(salted, 'Server Key');
  return { ok: true, message: `${withoutProof},p=${proof.toString('base64')}`, serverSignature: hmac(serverKey, authMessage) };
}

/** Verifies server-final-message ("v=<signature>"); a wrong signature means an impostor server. */
export function scramVerifyServerFinal(serverFinal: string, expected: Buffer): { ok: true } | { ok: false; error: string } {
  const attrs = parseAttributes(serverFinal);
  if (attrs.has('e')) return { ok: false, error: `server error: ${attrs.get('e')}` };
  const v = attrs.get('v');
  if (!v) return { ok: false, error: 'malformed SCRAM server-final-message' };
  const got = Buffer.from(v, 'base64');
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) return { ok: false, error: 'SCRAM server signature mismatch' };
  return { ok: true };
}
