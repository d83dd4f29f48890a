// The phone-number detector: E.164, NANP and trunk-0 national formats, read as runs of digit
// groups and matched by window of whole groups (bestWindows), one linear scan.
import type { DetectorHit } from './detectors.js';
import { isDigit, isWord } from './chars.js';
import { bestWindows, rightBoundary } from './detect-numbers.js';

/** One group of digits of a phone-shaped run. */
interface PhoneGroup {
  /** Offsets of the group, its `(` and `)` included. */
  start: number;
  end: number;
  digits: number;
  first: number;
  /** The group starts `00` (the international call prefix). */
  zeroZero: boolean;
  paren: boolean;
  /** The separator before it is a dot. */
  dot: boolean;
}

/** Reads `[+]group(sep group)*` from `i`: groups of digits, `(…)` allowed, one separator each. */
function readPhoneRun(text: string, i: number): { plus: boolean; groups: PhoneGroup[] } {
  const n = text.length;
  const groups: PhoneGroup[] = [];
  let pos = i;
  const plus = text.charCodeAt(pos) === 43;
  if (plus) pos++;
  let dot = false;
  for (;;) {
    const start = pos;
    const paren = text.charCodeAt(pos) === 40;
    if (paren) pos++;
    const g = pos;
    while (pos < n && isDigit(text.charCodeAt(pos))) pos++;
    if (pos === g || pos - g > 12) break;
    const digits = pos - g;
    if (paren) {
      if (text.charCodeAt(pos) !== 41) break;
      pos++;
    }
    groups.push({ start: groups.length === 0 ? i : start, end: pos, digits, first: text.charCodeAt(g) - 48, zeroZero: digits > 1 && text.charCodeAt(g) === 48 && text.charCodeAt(g + 1) === 48, paren, dot });
    const c = text.charCodeAt(pos);
    const next = text.charCodeAt(pos + 1);
    if ((c === 32 || c === 45 || c === 46) && (isDigit(next) || next === 40)) {
      dot = c === 46;
      pos++;
    } else if (paren && (isDigit(c) || c === 40)) {
      dot = false;
    } else break;
  }
  return { plus, groups };
}

/** Longest phone number of a window of groups: E.164 has at most 15 digits, in a few groups. */
const PHONE_MAX_GROUPS = 8;

/**
 * Phone numbers: E.164 (`+` and 8–15 digits, compact or after a 1–3 digit country code), NANP `(415) 555-2671` /
 * `415-555-2671` / `415.555.2671` / `1 800 555 0199` (area and exchange 2–9), and national
 * numbers with a trunk `0` in 2–8 digit groups (`020 7946 0958`, `01 23 45 67 89`). A run of
 * digits without `+` or separators is not taken for a phone number. In a longer run of groups
 * (`4111 1111 (415) 555-2671`) the longest phone-shaped window of whole groups is taken.
 */
export function findPhones(text: string, out: DetectorHit[]): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (!isPhoneChar(text.charCodeAt(i))) { i++; continue; }
    // A stretch of phone characters with too few digits holds no number: skip it whole.
    let reach = i, digits = 0;
    for (; reach < n; reach++) {
      const ch = text.charCodeAt(reach);
      if (isDigit(ch)) digits++;
      else if (!isPhoneChar(ch)) break;
    }
    if (digits >= 8) findPhonesIn(text, i, reach, out);
    i = reach;
  }
}

function isPhoneChar(c: number): boolean {
  return isDigit(c) || c === 32 || c === 45 || c === 46 || c === 40 || c === 41 || c === 43;
}

/** Phone numbers starting inside text[from..to), a stretch of phone characters. */
function findPhonesIn(text: string, from: number, to: number, out: DetectorHit[]): void {
  let i = from;
  while (i < to) {
    const c = text.charCodeAt(i);
    const p = text.charCodeAt(i - 1);
    if (!(isDigit(c) || c === 43 || c === 40) || isDigit(p)) { i++; continue; }
    const leftOk = !(isWord(p) || p === 43 || p === 45 || p === 46 || p === 41 || p === 40);
    const { plus, groups } = readPhoneRun(text, i);
    const last = groups[groups.length - 1];
    if (!last) { i++; continue; }
    i = last.end;
    const rightOk = rightBoundary(text, last.end) && text.charCodeAt(last.end) !== 41;
    const picked = bestWindows(groups.length, (g, h) => {
      // Inside the run a number starts and ends at a space.
      if (h - g >= PHONE_MAX_GROUPS || !(g === 0 ? leftOk : text.charCodeAt(groups[g]!.start - 1) === 32)) return -1;
      let digits = 0;
      for (let k = g; k <= h; k++) digits += groups[k]!.digits;
      if (digits > 15) return -1;
      const withPlus = plus && g === 0;
      if (digits < (withPlus ? 8 : 10)) return 0;
      const endOk = h === groups.length - 1 ? rightOk : text.charCodeAt(groups[h]!.end) === 32;
      return endOk && isPhone(groups, g, h, withPlus, digits) ? digits : 0;
    });
    for (let k = 0; k < picked.length; k += 2) {
      out.push({ detector: 'phone', start: groups[picked[k]!]!.start, end: groups[picked[k + 1]!]!.end });
    }
  }
}

/** Whether groups g..h (inclusive), `digits` digits in all, make a phone number. */
function isPhone(groups: readonly PhoneGroup[], g: number, h: number, plus: boolean, digits: number): boolean {
  const head = groups[g];
  if (!head) return false;
  // E.164: compact (`+14155552671`), or a 1–3 digit country code and then groups.
  if (plus) return digits >= 8 && digits <= 15 && head.first !== 0 && !head.paren && (g === h || head.digits <= 3);
  const count = h - g + 1;
  if (count < 2) return false;
  // NANP: [1] NXX NXX XXXX.
  const o = g + (count === 4 && head.digits === 1 && head.first === 1 ? 1 : 0);
  const area = groups[o], exchange = groups[o + 1], line = groups[o + 2];
  if (h - o === 2 && area && exchange && line && area.digits === 3 && exchange.digits === 3 && line.digits === 4) {
    return area.first >= 2 && exchange.first >= 2 && !exchange.paren && !line.paren;
  }
  // National with trunk prefix 0 (not 00, the international call prefix).
  if (digits < 10 || digits > 11 || head.first !== 0 || head.zeroZero || head.digits === 1) return false;
  for (let k = g; k <= h; k++) {
    const grp = groups[k];
    if (!grp || grp.digits < 2 || grp.digits > 8 || (k > g && (grp.paren || grp.dot))) return false;
  }
  return true;
}
