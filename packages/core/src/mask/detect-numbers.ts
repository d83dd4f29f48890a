// Detectors for numbers with structure: payment cards (Luhn), US SSNs, phone numbers, IBANs
// (mod 97). Each is one linear scan by char code; a failed candidate is skipped whole.
import type { DetectorHit } from './detectors.js';
import { isAlnum, isDigit, isUpper, isWord } from './chars.js';

/** Nothing before `i` continues the number: not a word character, not a fraction's separator. */
function leftBoundary(text: string, i: number): boolean {
  const p = text.charCodeAt(i - 1);
  if (isWord(p)) return false;
  return !((p === 46 || p === 44 || p === 45) && isDigit(text.charCodeAt(i - 2)));
}

function rightBoundary(text: string, end: number): boolean {
  const c = text.charCodeAt(end);
  if (isWord(c)) return false;
  return !((c === 46 || c === 44 || c === 45) && isDigit(text.charCodeAt(end + 1)));
}

/**
 * Payment card numbers: 13–19 digits, optionally in groups of 3 or more separated by one space
 * or dash, starting with 2–6 (the issuer ranges of Visa, Mastercard, Amex, Discover, JCB,
 * Diners, UnionPay, Maestro), passing the Luhn check, not all zeros.
 */
export function findCards(text: string, out: DetectorHit[]): void {
  const n = text.length;
  const digits: number[] = [];
  let i = 0;
  while (i < n) {
    if (!isDigit(text.charCodeAt(i))) { i++; continue; }
    const start = i;
    digits.length = 0;
    let groupLen = 0;
    let shortGroup = false;
    let separated = false;
    let end = i;
    while (end < n) {
      const c = text.charCodeAt(end);
      if (isDigit(c)) {
        if (digits.length < 20) digits.push(c - 48);
        groupLen++;
        end++;
      } else if ((c === 32 || c === 45) && isDigit(text.charCodeAt(end + 1)) && end > start) {
        if (groupLen < 3) shortGroup = true;
        groupLen = 0;
        separated = true;
        end++;
      } else break;
    }
    if (separated && groupLen < 3) shortGroup = true;
    i = end;
    const count = digits.length;
    if (count < 13 || count > 19 || shortGroup) continue;
    const first = digits[0] ?? 0;
    if (first < 2 || first > 6) continue;
    if (!leftBoundary(text, start) || !rightBoundary(text, end)) continue;
    if (luhn(digits)) out.push({ detector: 'credit_card', start, end });
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

interface PhoneRun {
  end: number;
  plus: boolean;
  /** Digit count of each group, and whether it was in parentheses. */
  groups: number[];
  parens: boolean[];
  dots: boolean;
  digits: number;
  firstDigits: number[];
}

/** Reads `[+]group(sep group)*` from `i`: groups of digits, `(…)` allowed, one separator each. */
function readPhoneRun(text: string, i: number): PhoneRun {
  const n = text.length;
  const run: PhoneRun = { end: i, plus: false, groups: [], parens: [], dots: false, digits: 0, firstDigits: [] };
  let pos = i;
  if (text.charCodeAt(pos) === 43) { run.plus = true; pos++; }
  for (;;) {
    let paren = false;
    if (text.charCodeAt(pos) === 40) { paren = true; pos++; }
    const g = pos;
    while (pos < n && isDigit(text.charCodeAt(pos))) pos++;
    if (pos === g || pos - g > 12) break;
    if (paren) {
      if (text.charCodeAt(pos) !== 41) break;
      pos++;
    }
    run.groups.push(pos - g - (paren ? 1 : 0));
    run.parens.push(paren);
    run.firstDigits.push(text.charCodeAt(g) - 48);
    run.digits += pos - g - (paren ? 1 : 0);
    run.end = pos;
    const c = text.charCodeAt(pos);
    const next = text.charCodeAt(pos + 1);
    if ((c === 32 || c === 45 || c === 46) && (isDigit(next) || next === 40)) {
      if (c === 46) run.dots = true;
      pos++;
    } else if (!(paren && (isDigit(c) || c === 40))) break;
  }
  return run;
}

/**
 * Phone numbers: E.164 (`+` and 8–15 digits, any grouping), NANP `(415) 555-2671` /
 * `415-555-2671` / `415.555.2671` / `1 800 555 0199` (area and exchange 2–9), and national
 * numbers with a trunk `0` in 2–5 digit groups (`020 7946 0958`, `01 23 45 67 89`). A run of
 * digits without `+` or separators is not taken for a phone number.
 */
export function findPhones(text: string, out: DetectorHit[]): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (!(isDigit(c) || c === 43 || c === 40)) { i++; continue; }
    const p = text.charCodeAt(i - 1);
    if (isWord(p) || p === 43 || p === 45 || p === 46 || p === 41 || p === 40) { i++; continue; }
    const run = readPhoneRun(text, i);
    if (run.groups.length === 0) { i++; continue; }
    const end = run.end;
    if (!rightBoundary(text, end) || text.charCodeAt(end) === 41) { i = end; continue; }
    if (isPhone(run)) out.push({ detector: 'phone', start: i, end });
    i = end;
  }
}

function isPhone(run: PhoneRun): boolean {
  const { groups, parens, firstDigits, digits } = run;
  if (run.plus) return digits >= 8 && digits <= 15 && firstDigits[0] !== 0 && !parens[0];
  if (groups.length < 2) return false;
  // NANP: [1] NXX NXX XXXX.
  const offset = groups.length === 4 && groups[0] === 1 && firstDigits[0] === 1 ? 1 : 0;
  if (groups.length - offset === 3 && groups[offset] === 3 && groups[offset + 1] === 3 && groups[offset + 2] === 4) {
    return (firstDigits[offset] ?? 0) >= 2 && (firstDigits[offset + 1] ?? 0) >= 2 && !parens[offset + 1] && !parens[offset + 2];
  }
  // National with trunk prefix 0 (not 00, the international call prefix).
  if (run.dots || digits < 10 || digits > 11 || firstDigits[0] !== 0) return false;
  if (groups[0] === 1) return false;
  for (let k = 0; k < groups.length; k++) {
    const len = groups[k] ?? 0;
    if (len < 2 || len > 8 || (k > 0 && parens[k])) return false;
  }
  return true;
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
