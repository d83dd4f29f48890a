// Finds sensitive values (cards, e-mails, phones, SSNs, IBANs, JWTs, cloud keys, private keys)
// inside any text: a result value, a log line, a Secret's data. Linear scans, no backtracking.
import type { DetectorName } from '../policy/types.js';
import { isDigit, isUpper } from './chars.js';
import { findCards, findIbans, findSsns } from './detect-numbers.js';
import { findPhones } from './detect-phone.js';
import { findCloudKeys, findEmails, findJwts, findPrivateKeys } from './detect-tokens.js';

export type { DetectorName };

export interface DetectorHit {
  detector: DetectorName;
  /** UTF-16 offsets into the text, `end` exclusive. */
  start: number;
  end: number;
}

type Finder = (text: string, out: DetectorHit[]) => void;

/**
 * Bit k of a candidate mask is FINDERS[k]: private_key, jwt, cloud_key, email, iban,
 * credit_card, us_ssn, phone. Order matters only for ties: at the same start the longer hit
 * wins, then the earlier finder.
 */
const FINDERS: readonly Finder[] = [findPrivateKeys, findJwts, findCloudKeys, findEmails, findIbans, findCards, findSsns, findPhones];

/** Shortest text any detector matches (`a@b.co`). */
const MIN_LENGTH = 6;
/** Fewest digits cards need. */
const MIN_CARD_DIGITS = 13;
/** In every PEM private key's BEGIN line. */
const PEM_HINT = 'PRIVATE KEY';
/** The shortest IBAN (Norway). */
const MIN_IBAN = 15;
const CLOUD_HINT = /AKIA|ASIA|AIza|gh[pousr]_|github_pat_|xox[abprse]-|xapp-|[rs]k_(?:live|test)_|whsec_|aws_?secret|secret_?access_?key/i;

/** Every sensitive span of `text` found by the given detectors, in order, non-overlapping. */
export function findSensitive(text: string, detectors: ReadonlySet<DetectorName>): DetectorHit[] {
  return findSensitiveByMask(text, detectorMask(detectors));
}

/** A detector set as a number, for the hot path (findSensitiveByMask): no set look-ups per value. */
export function detectorMask(detectors: ReadonlySet<DetectorName>): number {
  let m = 0;
  if (detectors.has('private_key')) m |= 1;
  if (detectors.has('jwt')) m |= 2;
  if (detectors.has('cloud_key')) m |= 4;
  if (detectors.has('email')) m |= 8;
  if (detectors.has('iban')) m |= 16;
  if (detectors.has('credit_card')) m |= 32;
  if (detectors.has('us_ssn')) m |= 64;
  if (detectors.has('phone')) m |= 128;
  return m;
}

/** findSensitive with the detectors as detectorMask gives them. */
export function findSensitiveByMask(text: string, mask: number): DetectorHit[] {
  const hits: DetectorHit[] = [];
  // Each finder runs only where its own pre-check passes: most values need none or one scan.
  const run = candidates(text, mask);
  if (run === 0) return hits;
  for (let k = 0; k < FINDERS.length; k++) {
    if ((run & (1 << k)) !== 0) FINDERS[k]!(text, hits);
  }
  // Several finders, or one finding out of order (cloud_key: AWS secrets after the ids).
  return hits.length > 1 ? resolveOverlaps(hits) : hits;
}

/**
 * Cheap pre-check: false means findSensitive would find nothing (for the hot path). A few
 * native searches and one pass over the digits; true says only that a full scan is worth it.
 */
export function mayContainSensitive(text: string, detectors: ReadonlySet<DetectorName>): boolean {
  return candidates(text, detectorMask(detectors)) !== 0;
}

/** Bits (FINDERS) of the detectors in `mask` whose pre-checks pass on `text`. */
function candidates(text: string, mask: number): number {
  if (text.length < MIN_LENGTH) return 0;
  let bits = 0;
  if ((mask & 1) !== 0 && text.includes(PEM_HINT)) bits |= 1;
  if ((mask & 2) !== 0 && text.includes('eyJ')) bits |= 2;
  if ((mask & 4) !== 0 && text.length >= 14 && CLOUD_HINT.test(text)) bits |= 4;
  if ((mask & 8) !== 0 && text.includes('@')) bits |= 8;
  const digits = mask & (text.length >= MIN_IBAN ? 0b11110000 : 0b11100000);
  if (digits === 0) return bits;
  return bits | (digitShape(text) & digits);
}

/**
 * Sorts by start, longer first at equal starts; a hit overlapping the one before is merged into
 * it (the earlier keeps its detector name), so no detected character is left unmasked.
 */
function resolveOverlaps(hits: DetectorHit[]): DetectorHit[] {
  hits.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: DetectorHit[] = [];
  let last: DetectorHit | undefined;
  for (const h of hits) {
    if (last && h.start < last.end) {
      if (h.end > last.end) last.end = h.end;
      continue;
    }
    last = { ...h };
    kept.push(last);
  }
  return kept;
}

/**
 * One pass over the text: the digit runs the digit-based detectors need, as upper bounds, as
 * FINDERS bits (a number, no object per value): 16 two upper-case letters then two digits (an
 * IBAN's start), 32 at least 13 digits in one run joined by single spaces or dashes (cards), 64
 * groups of 3, 2 and 4 digits so joined (an SSN), 128 a `+` and 8 digits, a trunk `0` and 10, or
 * groups of 3, 3 and 4 (phone numbers).
 */
function digitShape(text: string): number {
  let joined = 0, runJoined = 0, gapJoined = 0, gapLoose = 4;
  // Lengths of the current digit group and the two before it in the same joined run.
  let group = 0, g1 = 0, g2 = 0;
  // The same for runs joined the way phone numbers are (up to three of ` -.()`), and the digits
  // since the run's `+` and since its first group starting with a trunk `0`; -1 when none.
  let lgroup = 0, lg1 = 0, lg2 = 0, plus = -1, trunk = -1;
  let ssnLike = false, phoneLike = false, ibanStart = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (gapJoined > 1) { g1 = g2 = 0; runJoined = 0; }
      if (gapLoose > 3) { lg1 = lg2 = lgroup = 0; trunk = -1; plus = -1; }
      if (gapJoined === 1) { g2 = g1; g1 = group; }
      if (gapJoined > 0) group = 0;
      if (gapLoose > 0 && gapLoose <= 3) { lg2 = lg1; lg1 = lgroup; }
      if (gapLoose > 0) {
        lgroup = 0;
        if (trunk < 0 && c === 48 && text.charCodeAt(i + 1) !== 48) trunk = 0;
      }
      group++;
      lgroup++;
      runJoined++;
      gapJoined = gapLoose = 0;
      if (runJoined > joined) joined = runJoined;
      if (group === 4 && g1 === 2 && g2 === 3) ssnLike = true;
      if (plus >= 0 && ++plus >= 8) phoneLike = true;
      if (trunk >= 0 && ++trunk >= 10) phoneLike = true;
      if (lgroup === 4 && lg1 === 3 && lg2 === 3) phoneLike = true;
      if (!ibanStart && i >= 3 && isDigit(text.charCodeAt(i - 1)) && isUpper(text.charCodeAt(i - 2)) && isUpper(text.charCodeAt(i - 3))) ibanStart = true;
    } else if (c === 32 || c === 45) {
      gapJoined++;
      gapLoose++;
    } else if (c === 43) {
      // A `+` only ever starts a phone number.
      gapJoined = 2;
      gapLoose = 1;
      lg1 = lg2 = lgroup = 0;
      trunk = -1;
      plus = 0;
    } else if (c === 46 || c === 40 || c === 41) {
      gapJoined = 2;
      gapLoose++;
    } else {
      gapJoined = 2;
      gapLoose = 4;
      plus = -1;
    }
  }
  return (ibanStart ? 16 : 0) | (joined >= MIN_CARD_DIGITS ? 32 : 0) | (ssnLike ? 64 : 0) | (phoneLike ? 128 : 0);
}
