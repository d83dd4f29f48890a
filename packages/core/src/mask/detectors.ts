// Finds sensitive values (cards, e-mails, phones, SSNs, IBANs, JWTs, cloud keys, private keys)
// inside any text: a result value, a log line, a Secret's data. Linear scans, no backtracking.
import type { DetectorName } from '../policy/types.js';
import { isDigit, isUpper } from './chars.js';
import { findCards, findIbans, findPhones, findSsns } from './detect-numbers.js';
import { findCloudKeys, findEmails, findJwts, findPrivateKeys } from './detect-tokens.js';

export type { DetectorName };

export interface DetectorHit {
  detector: DetectorName;
  /** UTF-16 offsets into the text, `end` exclusive. */
  start: number;
  end: number;
}

type Finder = (text: string, out: DetectorHit[]) => void;

/** Order matters only for ties: at the same start the longer hit wins, then the earlier finder. */
const FINDERS: readonly (readonly [DetectorName, Finder])[] = [
  ['private_key', findPrivateKeys],
  ['jwt', findJwts],
  ['cloud_key', findCloudKeys],
  ['email', findEmails],
  ['iban', findIbans],
  ['credit_card', findCards],
  ['us_ssn', findSsns],
  ['phone', findPhones],
];

/** Shortest text any detector matches (`a@b.co`). */
const MIN_LENGTH = 6;
/** Fewest digits each digit-based detector needs. */
const MIN_DIGITS = { credit_card: 13, us_ssn: 9, phone: 8 } as const;
/** In every PEM private key's BEGIN line. */
const PEM_HINT = 'PRIVATE KEY';
/** The shortest IBAN (Norway). */
const MIN_IBAN = 15;
const CLOUD_HINT = /AKIA|ASIA|AIza|gh[pousr]_|github_pat_|xox[abprse]-|xapp-|[rs]k_(?:live|test)_|whsec_|aws_?secret|secret_?access_?key/i;

/** Every sensitive span of `text` found by the given detectors, in order, non-overlapping. */
export function findSensitive(text: string, detectors: ReadonlySet<DetectorName>): DetectorHit[] {
  const hits: DetectorHit[] = [];
  if (text.length < MIN_LENGTH) return hits;
  let shape: DigitShape | undefined;
  let finders = 0;
  for (const [name, find] of FINDERS) {
    if (!detectors.has(name)) continue;
    // Each finder runs only where its own pre-check passes: most values need none or one scan.
    if (DIGIT_BASED.has(name)) {
      shape ??= digitShape(text);
      if (!digitsMayMatch(name, shape, text.length)) continue;
    } else if (!anchorMayMatch(name, text)) continue;
    const before = hits.length;
    find(text, hits);
    if (hits.length > before) finders++;
  }
  return finders > 1 ? resolveOverlaps(hits) : hits;
}

const DIGIT_BASED: ReadonlySet<DetectorName> = new Set(['credit_card', 'us_ssn', 'phone', 'iban']);

function digitsMayMatch(name: DetectorName, s: DigitShape, length: number): boolean {
  switch (name) {
    case 'credit_card': return s.joined >= MIN_DIGITS.credit_card;
    case 'us_ssn': return s.joined >= MIN_DIGITS.us_ssn;
    case 'phone': return s.loose >= MIN_DIGITS.phone;
    case 'iban': return s.ibanStart && length >= MIN_IBAN;
    default: return true;
  }
}

function anchorMayMatch(name: DetectorName, text: string): boolean {
  switch (name) {
    case 'email': return text.includes('@');
    case 'jwt': return text.includes('eyJ');
    case 'private_key': return text.includes(PEM_HINT);
    case 'cloud_key': return text.length >= 14 && CLOUD_HINT.test(text);
    default: return true;
  }
}

/** Sorts by start, longer first at equal starts, and drops any hit overlapping a kept one. */
function resolveOverlaps(hits: DetectorHit[]): DetectorHit[] {
  hits.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: DetectorHit[] = [];
  let end = 0;
  for (const h of hits) {
    if (h.start < end) continue;
    kept.push(h);
    end = h.end;
  }
  return kept;
}

/**
 * Cheap pre-check: false means findSensitive would find nothing (for the hot path). One digit
 * count and a few native searches; true says only that a full scan is worth it.
 */
export function mayContainSensitive(text: string, detectors: ReadonlySet<DetectorName>): boolean {
  if (text.length < MIN_LENGTH) return false;
  let digits = false;
  for (const name of detectors) {
    if (DIGIT_BASED.has(name)) digits = true;
    else if (anchorMayMatch(name, text)) return true;
  }
  if (!digits) return false;
  const shape = digitShape(text);
  for (const name of detectors) {
    if (DIGIT_BASED.has(name) && digitsMayMatch(name, shape, text.length)) return true;
  }
  return false;
}

interface DigitShape {
  /** Most digits in one run joined by single spaces or dashes (cards, SSNs). */
  joined: number;
  /** Most digits in one run joined by up to three of ` -.()+` (phone numbers). */
  loose: number;
  /** Two upper-case letters followed by two digits somewhere (an IBAN's start). */
  ibanStart: boolean;
}

/** One pass over the text: the digit runs the digit-based detectors need, as upper bounds. */
function digitShape(text: string): DigitShape {
  let joined = 0, loose = 0, runJoined = 0, runLoose = 0, gapJoined = 0, gapLoose = 0;
  let ibanStart = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      runJoined = gapJoined > 1 ? 1 : runJoined + 1;
      runLoose = gapLoose > 3 ? 1 : runLoose + 1;
      gapJoined = gapLoose = 0;
      if (runJoined > joined) joined = runJoined;
      if (runLoose > loose) loose = runLoose;
      if (!ibanStart && i >= 3 && isDigit(text.charCodeAt(i - 1)) && isUpper(text.charCodeAt(i - 2)) && isUpper(text.charCodeAt(i - 3))) ibanStart = true;
    } else if (c === 32 || c === 45) {
      gapJoined++;
      gapLoose++;
    } else if (c === 46 || c === 40 || c === 41 || c === 43) {
      gapJoined = 2;
      gapLoose++;
    } else {
      gapJoined = 2;
      gapLoose = 4;
    }
  }
  return { joined, loose, ibanStart };
}
