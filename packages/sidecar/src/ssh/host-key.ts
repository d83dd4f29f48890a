// The target's expected host key (a Connection's `hostKey`, as in known_hosts or `*.pub`) and
// the check of the key the target presents: the key blobs must be equal, byte for byte.
import { timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';

export interface ExpectedHostKey {
  /** The key type of the line (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`…). */
  type: string;
  /** The public key blob as sent on the wire (RFC 4253 §6.6). */
  blob: Buffer;
  /** Host key algorithms to offer, so the target presents this key and no other it may hold. */
  algorithms: string[];
}

/** Parses `[marker] [hosts] type base64 [comment]`; the type inside the blob must match. */
export function parseHostKey(line: string): { ok: true; key: ExpectedHostKey } | { ok: false; error: string } {
  const words = line.trim().split(/\s+/);
  const at = words.findIndex((w) => KEY_TYPE.test(w));
  const type = words[at];
  const b64 = words[at + 1];
  if (at < 0 || type === undefined || b64 === undefined) return { ok: false, error: 'expected `<key type> <base64 key>` (an OpenSSH public key line)' };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return { ok: false, error: 'the key is not base64' };
  const blob = Buffer.from(b64, 'base64');
  const inner = blobType(blob);
  if (inner !== type) return { ok: false, error: `the key blob is of type ${inner ?? 'unknown'}, the line says ${type}` };
  return { ok: true, key: { type, blob, algorithms: type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type] } };
}

/** True when the presented blob is exactly the expected key. */
export function hostKeyMatches(expected: ExpectedHostKey, presented: Buffer): boolean {
  return presented.length === expected.blob.length && timingSafeEqual(presented, expected.blob);
}

/** `SHA256:…` as OpenSSH prints fingerprints, for messages. */
export function fingerprint(blob: Buffer, hash: (b: Buffer) => Buffer): string {
  return `SHA256:${hash(blob).toString('base64').replace(/=+$/, '')}`;
}

const KEY_TYPE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)$/;

/** The first string of an SSH public key blob: its type. */
function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  if (n > 64 || blob.length < 4 + n) return undefined;
  return blob.subarray(4, 4 + n).toString('latin1');
}

/**
 * A new ed25519 key pair (OpenSSH format) that ssh2 can read back: a few in a thousand of the
 * keys its own generator makes it then refuses to load (mscdex/ssh2#1390), which would fail a
 * listener's start.
 */
export function generateHostKey(): { private: string; public: string } {
  for (;;) {
    const key = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(key.private) instanceof Error) && !(ssh2.utils.parseKey(key.public) instanceof Error)) return key;
  }
}
