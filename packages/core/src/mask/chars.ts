// Character-class tests by UTF-16 code unit, shared by the detectors (no regex on the hot path).

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

export function isLower(c: number): boolean {
  return c >= 97 && c <= 122;
}

export function isAlnum(c: number): boolean {
  return isDigit(c) || isUpper(c) || isLower(c);
}

/** Letters, digits and `_`: a character that continues a word. NaN (past either end) is not. */
export function isWord(c: number): boolean {
  return isAlnum(c) || c === 95;
}

/** The base64url alphabet: letters, digits, `-`, `_`. */
export function isBase64Url(c: number): boolean {
  return isAlnum(c) || c === 45 || c === 95;
}

