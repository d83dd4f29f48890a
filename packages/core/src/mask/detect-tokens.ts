// Detectors anchored on a literal: e-mail addresses (`@`), JWTs (`eyJ`), PEM private keys
// (`-----BEGIN`), cloud and SaaS credentials (their documented prefixes). Native indexOf finds
// the anchors; the checks around each anchor are bounded, so every scan stays linear.
import { Buffer } from 'node:buffer';
import type { DetectorHit } from './detectors.js';
import { isAlnum, isBase64Url, isDigit, isLower, isUpper, isWord } from './chars.js';

/** RFC 5321 limits: local part 64, domain 253 octets. */
const LOCAL_MAX = 64;
const DOMAIN_MAX = 253;

/** Local-part characters in practice (a subset of RFC 5322 atext). */
function isLocalChar(c: number): boolean {
  return isAlnum(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
}

function isDomainChar(c: number): boolean {
  return isAlnum(c) || c === 46 || c === 45;
}

/** E-mail addresses `local@domain.tld`: dotted labels without empty parts, an alphabetic TLD of 2+. */
export function findEmails(text: string, out: DetectorHit[]): void {
  let floor = 0;
  let at = text.indexOf('@');
  while (at >= 0) {
    let s = at;
    while (s > floor && at - s < LOCAL_MAX && isLocalChar(text.charCodeAt(s - 1))) s--;
    while (s < at && text.charCodeAt(s) === 46) s++;
    let e = at + 1;
    const limit = Math.min(text.length, at + 1 + DOMAIN_MAX);
    while (e < limit && isDomainChar(text.charCodeAt(e))) e++;
    // A sentence's full stop or a dash after the address is not part of it.
    while (e > at + 1 && (text.charCodeAt(e - 1) === 46 || text.charCodeAt(e - 1) === 45)) e--;
    if (s < at && text.charCodeAt(at - 1) !== 46 && validDomain(text, at + 1, e)) {
      out.push({ detector: 'email', start: s, end: e });
      floor = e;
    } else {
      floor = at + 1;
    }
    at = text.indexOf('@', Math.max(e, at + 1));
  }
}

function validDomain(text: string, s: number, e: number): boolean {
  let labelStart = s;
  let dots = 0;
  for (let i = s; i <= e; i++) {
    const c = i < e ? text.charCodeAt(i) : 46;
    if (c !== 46) continue;
    const len = i - labelStart;
    if (len === 0 || len > 63 || text.charCodeAt(labelStart) === 45 || text.charCodeAt(i - 1) === 45) return false;
    if (i < e) dots++;
    labelStart = i + 1;
  }
  if (dots === 0) return false;
  let tld = e;
  while (tld > s && text.charCodeAt(tld - 1) !== 46) tld--;
  if (e - tld < 2) return false;
  for (let i = tld; i < e; i++) {
    const c = text.charCodeAt(i);
    if (!isUpper(c) && !isLower(c)) return false;
  }
  return true;
}

/** Longest JOSE header looked at; real ones are well under 1 kB. */
const JWT_HEADER_MAX = 2048;

/**
 * JWTs (RFC 7519) in compact form: base64url parts joined by dots (3 for JWS, 5 for JWE), the
 * first decoding to a JSON object with a string `alg`. The signature may be empty (`alg: none`).
 */
export function findJwts(text: string, out: DetectorHit[]): void {
  let p = text.indexOf('eyJ');
  while (p >= 0) {
    let next = p + 3;
    if (!isBase64Url(text.charCodeAt(p - 1)) && text.charCodeAt(p - 1) !== 46) {
      const ends: number[] = [];
      let pos = p;
      for (let part = 0; part < 5; part++) {
        const s = pos;
        while (pos < text.length && isBase64Url(text.charCodeAt(pos))) pos++;
        if (pos === s && part < 2) break;
        ends.push(pos);
        if (text.charCodeAt(pos) !== 46 || part === 4) break;
        pos++;
      }
      const parts = ends.length;
      const end = ends[parts - 1] ?? p;
      const headerEnd = ends[0] ?? p;
      if ((parts === 3 || parts === 5) && text.charCodeAt(end) !== 46 && text.charCodeAt(end) !== 61
        && headerEnd - p <= JWT_HEADER_MAX && (ends[1] ?? 0) > headerEnd + 1 && headerHasAlg(text.slice(p, headerEnd))) {
        out.push({ detector: 'jwt', start: p, end });
      }
      next = Math.max(next, end);
    }
    p = text.indexOf('eyJ', next);
  }
}

function headerHasAlg(part: string): boolean {
  try {
    const header: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

const PEM_BEGIN = '-----BEGIN ';

/**
 * PEM private keys (RFC 7468 labels ending in `PRIVATE KEY`, OpenSSH's and PGP's too), from
 * BEGIN through the matching END line; a key cut off before its END is masked to the text's end.
 */
export function findPrivateKeys(text: string, out: DetectorHit[]): void {
  let p = text.indexOf(PEM_BEGIN);
  while (p >= 0) {
    const labelStart = p + PEM_BEGIN.length;
    let q = labelStart;
    while (q < text.length && q - labelStart < 40 && (isUpper(text.charCodeAt(q)) || text.charCodeAt(q) === 32)) q++;
    const label = text.slice(labelStart, q);
    let next = labelStart;
    if (text.startsWith('-----', q) && label.includes('PRIVATE KEY')) {
      const endMarker = `-----END ${label}-----`;
      const e = text.indexOf(endMarker, q + 5);
      const end = e < 0 ? text.length : e + endMarker.length;
      out.push({ detector: 'private_key', start: p, end });
      next = end;
    }
    p = text.indexOf(PEM_BEGIN, next);
  }
}

/** The anchors of cloud_key; each candidate is then checked by its own rule below. */
const CLOUD_ANCHORS = /AKIA|ASIA|AIza|gh[pousr]_|github_pat_|xox[abprse]-|xapp-|[rs]k_(?:live|test)_|whsec_/g;
/** Keywords that put a 40-character AWS secret access key near them. */
const AWS_SECRET_HINT = /aws_?secret|secret_?access_?key/gi;
/** How far from an access key id or a hint an AWS secret access key is looked for. */
const AWS_SECRET_WINDOW = 200;

function runLength(text: string, from: number, ok: (c: number) => boolean, max: number): number {
  let e = from;
  while (e < text.length && e - from <= max && ok(text.charCodeAt(e))) e++;
  return e - from;
}

const isUpperOrDigit = (c: number): boolean => isUpper(c) || isDigit(c);
const isSlackChar = (c: number): boolean => isAlnum(c) || c === 45;

/** Length of the credential starting at `p` with the anchor `a`, or 0 when it is not one. */
function credentialLength(text: string, p: number, a: string): number {
  const from = p + a.length;
  const tail = (ok: (c: number) => boolean, min: number, max: number): number => {
    const len = runLength(text, from, ok, max);
    return len >= min && len <= max ? a.length + len : 0;
  };
  if (a === 'AKIA' || a === 'ASIA') return tail(isUpperOrDigit, 16, 16);
  if (a === 'AIza') return tail(isBase64Url, 35, 35);
  if (a === 'github_pat_') return tail(isWord, 22, 255);
  if (a.startsWith('gh')) return tail(isAlnum, 36, 255);
  if (a.startsWith('xox') || a === 'xapp-') return tail(isSlackChar, 10, 255);
  if (a === 'whsec_') return tail(isAlnum, 20, 255);
  return tail(isAlnum, 10, 255);
}

/**
 * Cloud and SaaS credentials: AWS access key ids (AKIA…, ASIA…) and the 40-character secret
 * access keys near them or near an `aws_secret…`/`SecretAccessKey` label, GCP API keys (AIza…),
 * GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_), Slack tokens (xox?-, xapp-) and
 * Stripe secret, restricted and webhook keys (sk_/rk_ live/test, whsec_).
 */
export function findCloudKeys(text: string, out: DetectorHit[]): void {
  const windows: [number, number][] = [];
  for (const m of text.matchAll(CLOUD_ANCHORS)) {
    const p = m.index;
    if (isAlnum(text.charCodeAt(p - 1))) continue;
    const len = credentialLength(text, p, m[0]);
    if (len === 0 || isWord(text.charCodeAt(p + len))) continue;
    out.push({ detector: 'cloud_key', start: p, end: p + len });
    if (m[0] === 'AKIA' || m[0] === 'ASIA') windows.push([p - AWS_SECRET_WINDOW, p + len + AWS_SECRET_WINDOW]);
  }
  for (const m of text.matchAll(AWS_SECRET_HINT)) windows.push([m.index, m.index + m[0].length + AWS_SECRET_WINDOW]);
  if (windows.length > 0) findAwsSecrets(text, windows.sort((a, b) => a[0] - b[0]), out);
}

function isSecretChar(c: number): boolean {
  return isAlnum(c) || c === 43 || c === 47;
}

/** Exactly 40 characters of [A-Za-z0-9+/] with upper, lower and digits, inside a window. */
function findAwsSecrets(text: string, windows: readonly [number, number][], out: DetectorHit[]): void {
  let scanned = 0;
  for (const [from, to] of windows) {
    let i = Math.max(scanned, from, 0);
    const end = Math.min(text.length, to);
    while (i < end) {
      if (!isSecretChar(text.charCodeAt(i))) { i++; continue; }
      const s = i;
      let upper = false, lower = false, digit = false;
      while (i < text.length && isSecretChar(text.charCodeAt(i))) {
        const c = text.charCodeAt(i);
        if (isUpper(c)) upper = true;
        else if (isLower(c)) lower = true;
        else if (isDigit(c)) digit = true;
        i++;
      }
      if (i - s === 40 && upper && lower && digit && text.charCodeAt(i) !== 61 && (s === 0 || !isSecretChar(text.charCodeAt(s - 1)))) {
        out.push({ detector: 'cloud_key', start: s, end: i });
      }
    }
    scanned = Math.max(scanned, i);
  }
}
