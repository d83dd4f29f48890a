// The statement-shape key: SQL text with comments stripped, literals replaced and whitespace
// collapsed, so statements that differ only in literal values share one classification.
//
// Soundness (two texts with the same key must classify the same): the key keeps every character
// of the text verbatim except (a) whitespace and comments, which PostgreSQL's lexer discards as
// token separators (one space is kept wherever any was, so tokens never merge), and (b) literals,
// replaced by a mark of their lexical class. Literal values never decide statement kinds, tables
// or functions (kinds.ts); their class can, so the marks keep PostgreSQL's classes apart: ICONST
// (integers that fit int32), FCONST (decimals, exponents, and integers that overflow int32, which
// the lexer turns into FCONST), SCONST. The marks are control characters, which a cacheable text
// never holds elsewhere, so a mark cannot be confused with text.
// Wherever this lexer might split the text differently from PostgreSQL's scan.l, it gives up
// (null = parse every time): backslashes in strings (standard_conforming_strings=off would change
// their meaning), prefixed strings (E'' N'' B'' X'' U&''), U&"" identifiers (UESCAPE takes a
// literal that changes them), dollar quoting, adjacent strings (which PostgreSQL concatenates
// only across a newline), nested or unterminated comments, numbers touching identifier
// characters, dots or quotes, `.5`, non-ASCII or control characters outside strings and
// identifiers, and texts over 8 KiB.
// Two grammar rules check an integer's value while parsing (gram.y: `float(p)` precision, and
// `ALTER [COLUMN] n` column numbers), so an integer right after `float(`, `alter` or `column` is
// kept verbatim. Should a gram.y value check remain unknown here, the text of a shape that fails
// it is refused by the server with the very same error, and SqlClassifier never caches a failure.

const MAX_TEXT = 8192;
const MARK_INT = '\u0001';
const MARK_FLOAT = '\u0002';
const MARK_STRING = '\u0003';

// What the previous significant token was; decides the few context rules above.
const T_NONE = 0;
const T_IDENT = 1;
const T_STRING = 2;
const T_OPEN = 3; // '('
const T_OTHER = 4;

const C_TAB = 9, C_LF = 10, C_FF = 12, C_CR = 13, C_SPACE = 32;
const C_DQUOTE = 34, C_DOLLAR = 36, C_AMP = 38, C_QUOTE = 39, C_OPEN = 40, C_STAR = 42;
const C_PLUS = 43, C_MINUS = 45, C_DOT = 46, C_SLASH = 47, C_0 = 48, C_9 = 57;
const C_BACKSLASH = 92, C_UNDERSCORE = 95;

// Character classes, one table lookup per character on the hot path (indexed by UTF-16 unit).
const B_SPACE = 1, B_IDSTART = 2, B_IDCHAR = 4, B_DIGIT = 8, B_GLUE = 16;
const CLASSES = buildClasses();

function buildClasses(): Uint8Array {
  const t = new Uint8Array(65536);
  for (const c of [C_SPACE, C_TAB, C_LF, C_CR, C_FF]) t[c] = B_SPACE;
  for (let c = 0; c < 128; c++) {
    const letter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === C_UNDERSCORE;
    const digit = c >= C_0 && c <= C_9;
    if (letter) t[c] = B_IDSTART | B_IDCHAR | B_GLUE;
    if (digit) t[c] = B_DIGIT | B_IDCHAR | B_GLUE;
  }
  t[C_DOLLAR] = B_IDCHAR | B_GLUE;
  // Must not touch the end of a number or parameter (PostgreSQL 16+ rejects or re-reads them).
  for (const c of [C_DOT, C_QUOTE, C_DQUOTE]) t[c] = B_GLUE;
  t.fill(B_GLUE, 128);
  return t;
}

function isDigit(c: number): boolean {
  return c >= C_0 && c <= C_9;
}

/** Case-insensitive compare of text[start, end) with a lower-case ASCII word. */
function wordIs(text: string, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) {
    if ((text.charCodeAt(start + k) | 0x20) !== word.charCodeAt(k)) return false;
  }
  return true;
}

/** ICONST or FCONST for a run of digits: PostgreSQL reads integers beyond int32 as FCONST. */
function integerMark(text: string, start: number, end: number): string {
  while (start < end - 1 && text.charCodeAt(start) === C_0) start++;
  const len = end - start;
  if (len < 10) return MARK_INT;
  if (len > 10) return MARK_FLOAT;
  return text.slice(start, end) <= '2147483647' ? MARK_INT : MARK_FLOAT;
}

/** In `spans` (see shapeKey), the third number of a comment's triple. */
export const SPAN_COMMENT = -2;

/**
 * The shape key of `text`, or null when the text is not safely cacheable. Identifiers, keywords,
 * parameters ($1) and operators are kept exactly as written (case included).
 */
export function shapeKey(text: string): string | null {
  return scanShape(text, undefined);
}

/**
 * shapeKey, also listing in `spans` (appended, in text order) what the key replaced or dropped,
 * as triples: a literal the key marks is (start, end, minusStart), minusStart being where a `-`
 * token right before a number starts (else -1); a comment is (start, end, SPAN_COMMENT). Offsets
 * are UTF-16 indexes. When the key is null, `spans` holds nothing meaningful.
 */
export function shapeKeyWithSpans(text: string, spans: number[]): string | null {
  return scanShape(text, spans);
}

function scanShape(text: string, spans: number[] | undefined): string | null {
  const n = text.length;
  if (n > MAX_TEXT) return null;
  let key = '';
  let seg = 0; // start of the verbatim run not yet copied into key
  let sep = false; // whitespace or a comment since the last token
  let last = T_NONE, lastStart = 0, lastEnd = 0; // previous significant token
  let prev = T_NONE, prevStart = 0, prevEnd = 0; // the one before it
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    const next = i + 1 < n ? text.charCodeAt(i + 1) : -1;

    // Separators: a run of whitespace, -- comments and /* */ comments becomes one space. A run
    // that already is one space between tokens stays in the verbatim segment (the common case,
    // which keeps the key to a few slices).
    const cls = CLASSES[c] as number;
    if ((cls & B_SPACE) !== 0 || (c === C_MINUS && next === C_MINUS) || (c === C_SLASH && next === C_STAR)) {
      const runStart = i;
      while (i < n) {
        const d = text.charCodeAt(i);
        const e = i + 1 < n ? text.charCodeAt(i + 1) : -1;
        if (((CLASSES[d] as number) & B_SPACE) !== 0) {
          i++;
        } else if (d === C_MINUS && e === C_MINUS) {
          const from = i;
          i += 2;
          while (i < n && text.charCodeAt(i) !== C_LF && text.charCodeAt(i) !== C_CR) i++;
          if (spans) spans.push(from, i, SPAN_COMMENT);
        } else if (d === C_SLASH && e === C_STAR) {
          const from = i;
          i += 2;
          for (;;) {
            if (i + 1 >= n) return null; // unterminated
            const f = text.charCodeAt(i);
            const g = text.charCodeAt(i + 1);
            if (f === C_STAR && g === C_SLASH) { i += 2; if (spans) spans.push(from, i, SPAN_COMMENT); break; }
            if (f === C_SLASH && g === C_STAR) return null; // nested
            i++;
          }
        } else {
          break;
        }
      }
      if (i - runStart === 1 && c === C_SPACE && runStart > 0 && i < n) continue;
      if (runStart > seg) key += text.slice(seg, runStart);
      seg = i;
      sep = true;
      continue;
    }

    if (sep) {
      if (key.length > 0) key += ' ';
      sep = false;
    }
    const start = i;
    let kind = T_OTHER;

    if ((cls & B_IDSTART) !== 0) {
      i++;
      while (i < n && ((CLASSES[text.charCodeAt(i)] as number) & B_IDCHAR) !== 0) i++;
      if (i < n) {
        const d = text.charCodeAt(i);
        if (d === C_QUOTE || d >= 128) return null; // E'', N'', B'', X'', typed'' glued; non-ASCII
      }
      kind = T_IDENT;
    } else if ((cls & B_DIGIT) !== 0) {
      if (start > 0 && text.charCodeAt(start - 1) === C_DOT) return null; // `.5`, `x.1`
      let isFloat = false;
      i++;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      const intEnd = i;
      if (i < n && text.charCodeAt(i) === C_DOT) {
        if (!(i + 1 < n && isDigit(text.charCodeAt(i + 1)))) return null; // `1.`, `1..2`
        isFloat = true;
        i += 2;
        while (i < n && isDigit(text.charCodeAt(i))) i++;
      }
      if (i < n && (text.charCodeAt(i) | 0x20) === 101) { // e, E
        let j = i + 1;
        const s = j < n ? text.charCodeAt(j) : -1;
        if (s === C_PLUS || s === C_MINUS) j++;
        if (!(j < n && isDigit(text.charCodeAt(j)))) return null; // `1e`, `1e+`, `1else`
        isFloat = true;
        i = j + 1;
        while (i < n && isDigit(text.charCodeAt(i))) i++;
      }
      if (i < n && ((CLASSES[text.charCodeAt(i)] as number) & B_GLUE) !== 0) return null;
      const verbatim = !isFloat && (
        (last === T_IDENT && (wordIs(text, lastStart, lastEnd, 'alter') || wordIs(text, lastStart, lastEnd, 'column'))) ||
        (last === T_OPEN && prev === T_IDENT && wordIs(text, prevStart, prevEnd, 'float')));
      if (!verbatim) {
        if (start > seg) key += text.slice(seg, start);
        key += isFloat ? MARK_FLOAT : integerMark(text, start, intEnd);
        seg = i;
        if (spans) spans.push(start, i, last === T_OTHER && lastEnd - lastStart === 1 && text.charCodeAt(lastStart) === C_MINUS ? lastStart : -1);
      }
    } else if (c === C_QUOTE) {
      if (last === T_STRING) return null; // 'a' 'b' concatenation depends on a newline between
      i++;
      for (;;) {
        if (i >= n) return null; // unterminated
        const d = text.charCodeAt(i);
        if (d === C_QUOTE) {
          if (i + 1 < n && text.charCodeAt(i + 1) === C_QUOTE) { i += 2; continue; }
          i++;
          break;
        }
        if (d === C_BACKSLASH) return null;
        if (d < C_SPACE && d !== C_TAB && d !== C_LF && d !== C_CR) return null;
        i++;
      }
      if (start > seg) key += text.slice(seg, start);
      key += MARK_STRING;
      seg = i;
      kind = T_STRING;
      if (spans) spans.push(start, i, -1);
    } else if (c === C_DQUOTE) {
      i++;
      for (;;) {
        if (i >= n) return null; // unterminated
        const d = text.charCodeAt(i);
        if (d === C_DQUOTE) {
          if (i + 1 < n && text.charCodeAt(i + 1) === C_DQUOTE) { i += 2; continue; }
          i++;
          break;
        }
        if (d < C_SPACE) return null;
        i++;
      }
    } else if (c === C_DOLLAR) {
      if (!isDigit(next)) return null; // dollar quoting
      i += 2;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      if (i < n && ((CLASSES[text.charCodeAt(i)] as number) & B_GLUE) !== 0) return null;
    } else if (c > C_SPACE && c < 127) {
      if (c === C_AMP && (next === C_QUOTE || next === C_DQUOTE)) return null; // U&'' U&""
      if (c === C_DOT && isDigit(next)) return null; // `.5`
      i++;
      if (c === C_OPEN) kind = T_OPEN;
    } else {
      return null; // control characters, DEL, non-ASCII
    }
    prev = last; prevStart = lastStart; prevEnd = lastEnd;
    last = kind; lastStart = start; lastEnd = i;
  }
  if (n > seg) key += text.slice(seg, n);
  return key;
}
