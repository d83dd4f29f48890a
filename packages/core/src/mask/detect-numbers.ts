// Detectors for numbers with structure: payment cards (Luhn), US SSNs, IBANs (mod 97); phone
// numbers are in detect-phone.ts. Each is one linear scan by char code; a failed candidate is
// skipped whole.
import type { DetectorHit } from './detectors.js';
import { isAlnum, isDigit, isUpper, isWord } from './chars.js';

/** Nothing before `i` continues the number: not a word character, not a fraction's separator. */
function leftBoundary(text: string, i: number): boolean {
  const p = text.charCodeAt(i - 1);
  if (isWord(p)) return false;
  return !((p === 46 || p === 44 || p === 45) && isDigit(text.charCodeAt(i - 2)));
}

/** Nothing after `end` continues the number. */
export function rightBoundary(text: string, end: number): boolean {
  const c = text.charCodeAt(end);
  if (isWord(c)) return false;
  return !((c === 46 || c === 44 || c === 45) && isDigit(text.charCodeAt(end + 1)));
}

/**
 * Payment card numbers: 13–19 digits, optionally in groups of 3 or more separated by one space
 * or dash, starting with 2–6 (the issuer ranges of Visa, Mastercard, Amex, Discover, JCB,
 * Diners, UnionPay, Maestro), passing the Luhn check, not all zeros. A longer run of groups
 * (`4111 1111 1111 1111 2024`) is searched for its longest card-shaped window of whole groups.
 */
export function findCards(text: string, out: DetectorHit[]): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (!isDigit(text.charCodeAt(i))) { i++; continue; }
    const start = i;
    // Most runs are short: count first, gather groups only for a run long enough.
    let count = 0;
    let end = i;
    while (end < n) {
      const c = text.charCodeAt(end);
      if (isDigit(c)) { count++; end++; } else if ((c === 32 || c === 45) && isDigit(text.charCodeAt(end + 1))) end++;
      else break;
    }
    i = end;
    if (count >= 13) gatherCardRun(text, start, out);
  }
}

/** Gathers the digits and groups of the run at `start` and looks for cards in it. */
function gatherCardRun(text: string, start: number, out: DetectorHit[]): void {
  const n = text.length;
  const digits: number[] = [];
  /** Per group of the run: start offset, end offset, index of its first digit in `digits`. */
  const groups: number[] = [];
  let end = start;
  let groupStart = start;
  while (end < n) {
    const c = text.charCodeAt(end);
    if (isDigit(c)) {
      if (end === groupStart) groups.push(end, 0, digits.length);
      digits.push(c - 48);
      end++;
      groups[groups.length - 2] = end;
    } else if ((c === 32 || c === 45) && isDigit(text.charCodeAt(end + 1))) {
      end++;
      groupStart = end;
    } else break;
  }
  findCardWindows(text, digits, groups, leftBoundary(text, start), rightBoundary(text, end), out);
}

/**
 * Non-overlapping windows of whole groups (first..last, inclusive) covering the most digits,
 * left to right; at a tie the longer window first. `window(g, h)` gives the window's digit
 * count when groups g..h make a match, 0 when they do not, -1 when no longer window from g can.
 * Greedy longest-first would let one number swallow the next one's first group
 * (`+14155552671 (415) 555-2671`); this cannot. O(groups × window length).
 */
export function bestWindows(count: number, window: (g: number, h: number) => number): number[] {
  const gain = new Array<number>(count + 1).fill(0);
  const end = new Array<number>(count).fill(-1);
  for (let g = count - 1; g >= 0; g--) {
    gain[g] = gain[g + 1]!;
    for (let h = g; h < count; h++) {
      const d = window(g, h);
      if (d < 0) break;
      if (d > 0 && d + gain[h + 1]! >= gain[g]! && (end[g] === -1 || d + gain[h + 1]! > gain[g]! || h > end[g]!)) {
        gain[g] = d + gain[h + 1]!;
        end[g] = h;
      }
    }
  }
  const picked: number[] = [];
  for (let g = 0; g < count;) {
    const h = end[g]!;
    if (h >= 0 && gain[g] !== gain[g + 1]) {
      picked.push(g, h);
      g = h + 1;
    } else g++;
  }
  return picked;
}

/**
 * Windows of whole groups that are cards (bestWindows). Inside the run a window starts and
 * ends at a space (a dash binds its groups together).
 */
function findCardWindows(text: string, digits: readonly number[], groups: readonly number[], leftOk: boolean, rightOk: boolean, out: DetectorHit[]): void {
  const count = groups.length / 3;
  const picked = bestWindows(count, (g, h) => {
    const first = groups[g * 3 + 2]!;
    const after = h + 1 < count ? groups[h * 3 + 5]! : digits.length;
    const len = after - first;
    if (len > 19) return -1;
    if (h > g && after - groups[h * 3 + 2]! < 3) return -1;
    if (h === g + 1 && first + 3 > groups[h * 3 + 2]!) return -1;
    const startOk = g === 0 ? leftOk : text.charCodeAt(groups[g * 3]! - 1) === 32;
    if (!startOk) return -1;
    const endOk = h === count - 1 ? rightOk : text.charCodeAt(groups[h * 3 + 1]!) === 32;
    const d = digits[first]!;
    return len >= 13 && endOk && d >= 2 && d <= 6 && luhn(digits.slice(first, after)) ? len : 0;
  });
  for (let k = 0; k < picked.length; k += 2) {
    out.push({ detector: 'credit_card', start: groups[picked[k]! * 3]!, end: groups[picked[k + 1]! * 3 + 1]! });
  }
}

/** Luhn mod 10 over the digits, rightmost is the check digit. */
export function luhn(digits: readonly number[]): boolean {
  let sum = 0;
  let any = false;
  for (let k = 0; k < digits.length; k++) {
    let d = digits[digits.length - 1 - k] ?? 0;
    if (d !== 0) any = true;
    if (k % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return any && sum % 10 === 0;
}

function digitsAt(text: string, i: number, count: number): number {
  let v = 0;
  for (let k = 0; k < count; k++) {
    const c = text.charCodeAt(i + k);
    if (!isDigit(c)) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

/**
 * US Social Security numbers written `AAA-GG-SSSS` or `AAA GG SSSS` (a bare nine-digit run is
 * too common to mean an SSN). Never issued, so not matched: area 000, 666 and 900–999, group
 * 00, serial 0000 (SSA, "Social Security Number Randomization").
 */
export function findSsns(text: string, out: DetectorHit[]): void {
  const n = text.length - 10;
  for (let i = 0; i < n; i++) {
    if (!isDigit(text.charCodeAt(i)) || !leftBoundary(text, i)) continue;
    const area = digitsAt(text, i, 3);
    const sep = text.charCodeAt(i + 3);
    if (area < 0 || (sep !== 45 && sep !== 32) || text.charCodeAt(i + 6) !== sep) continue;
    const group = digitsAt(text, i + 4, 2);
    const serial = digitsAt(text, i + 7, 4);
    if (group < 0 || serial < 0 || !rightBoundary(text, i + 11)) continue;
    if (area === 0 || area === 666 || area >= 900 || group === 0 || serial === 0) continue;
    out.push({ detector: 'us_ssn', start: i, end: i + 11 });
    i += 10;
  }
}

/** IBAN lengths by country (SWIFT IBAN registry). */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22,
  IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18,
  NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31,
  SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30,
};

/** Digit 0–9, letter A–Z as 10–35 (ISO 13616), else -1. */
function ibanValue(c: number): number {
  if (isDigit(c)) return c - 48;
  if (isUpper(c)) return c - 55;
  return -1;
}

function mod97Step(r: number, v: number): number {
  return v < 10 ? (r * 10 + v) % 97 : (r * 100 + v) % 97;
}

/**
 * IBANs, compact or printed in groups of four (`DE89 3704 0044 0532 0130 00`): a known country,
 * its exact length, upper case, and the ISO 7064 mod 97-10 check.
 */
export function findIbans(text: string, out: DetectorHit[]): void {
  const n = text.length - 14;
  for (let i = 0; i < n; i++) {
    const c0 = text.charCodeAt(i);
    if (!isUpper(c0) || !isUpper(text.charCodeAt(i + 1))) continue;
    if (!isDigit(text.charCodeAt(i + 2)) || !isDigit(text.charCodeAt(i + 3)) || isAlnum(text.charCodeAt(i - 1))) continue;
    const length = IBAN_LENGTHS[text.slice(i, i + 2)];
    if (length === undefined) continue;
    let r = 0;
    let count = 4;
    let pos = i + 4;
    while (count < length) {
      const c = text.charCodeAt(pos);
      const v = ibanValue(c);
      if (v >= 0) {
        r = mod97Step(r, v);
        count++;
        pos++;
      } else if (c === 32 && count % 4 === 0 && ibanValue(text.charCodeAt(pos + 1)) >= 0) {
        pos++;
      } else break;
    }
    if (count !== length || isAlnum(text.charCodeAt(pos))) continue;
    for (let k = 0; k < 4; k++) r = mod97Step(r, ibanValue(text.charCodeAt(i + k)));
    if (r !== 1) continue;
    out.push({ detector: 'iban', start: i, end: pos });
    i = pos - 1;
  }
}
