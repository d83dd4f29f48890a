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
/** The shortest IBAN (Norway). */
const MIN_IBAN = 15;
const CLOUD_HINT = /AKIA|ASIA|AIza|gh[pousr]_|github_pat_|xox[abprse]-|xapp-|[rs]k_(?:live|test)_|whsec_|aws_?secret|secret_?access_?key/i;

/** Every sensitive span of `text` found by the given detectors, in order, non-overlapping. */
export function findSensitive(text: string, detectors: ReadonlySet<DetectorName>): DetectorHit[] {
  const hits: DetectorHit[] = [];
  if (text.length < MIN_LENGTH) return hits;
  let finders = 0;
  for (const [name, find] of FINDERS) {
    if (!detectors.has(name)) continue;
    const before = hits.length;
    find(text, hits);
    if (hits.length > before) finders++;
  }
  return finders > 1 ? resolveOverlaps(hits) : hits;
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
  if (detectors.has('email') && text.includes('@')) return true;
  if (detectors.has('jwt') && text.includes('eyJ')) return true;
  if (detectors.has('private_key') && text.includes('PRIVATE KEY')) return true;
  if (detectors.has('cloud_key') && text.length >= 14 && CLOUD_HINT.test(text)) return true;
  const card = detectors.has('credit_card');
  const ssn = detectors.has('us_ssn');
  const phone = detectors.has('phone');
  const iban = detectors.has('iban') && text.length >= MIN_IBAN;
  if (!card && !ssn && !phone && !iban) return false;
  const s = digitShape(text);
  return (card && s.joined >= MIN_DIGITS.credit_card) || (ssn && s.joined >= MIN_DIGITS.us_ssn)
    || (phone && s.loose >= MIN_DIGITS.phone) || (iban && s.ibanStart);
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
