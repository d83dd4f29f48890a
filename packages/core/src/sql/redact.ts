// Redacts literal values from SQL text before it is recorded: literals become $n, comments go.
import { normalizeSync, parseSync, scanSync } from 'libpg-query';

/** What a statement that cannot be parsed is recorded as: never its own text. */
export const UNPARSEABLE_REDACTED = '<unparseable statement redacted>';

// Token names of literals in libpg-query's scanner output. Bit strings, hex strings and U&''
// strings come back as UNKNOWN, so any token holding a quote or starting a dollar quote counts too.
const LITERAL_TOKENS: ReadonlySet<string> = new Set(['SCONST', 'USCONST', 'BCONST', 'XCONST', 'ICONST', 'FCONST']);
const COMMENT_TOKENS: ReadonlySet<string> = new Set(['SQL_COMMENT', 'C_COMMENT']);

/**
 * `text` with every literal replaced by a parameter ($1, $2, …) and comments removed, so that
 * recorded statements carry no values (passwords, personal data). libpg-query's normalize leaves
 * some literals alone (`COPY … PROGRAM 'cmd'`, which is not an A_Const) and all comments, so the
 * normalized text is scanned and anything literal left over is replaced as well.
 */
export function redactLiterals(text: string): string {
  if (text.trim() === '') return '';
  if (text.includes('\0')) return UNPARSEABLE_REDACTED; // the parser would stop at NUL, hiding the rest
  try {
    // normalize answers some parse errors with the error message (quoting the text) instead of
    // throwing, so only text that parses is normalized.
    parseSync(text);
    const normalized = normalizeSync(text);
    return stripLeftovers(normalized);
  } catch {
    return UNPARSEABLE_REDACTED;
  }
}

function stripLeftovers(normalized: string): string {
  const bytes = Buffer.from(normalized, 'utf8'); // scanner offsets are byte offsets
  const tokens = scanSync(normalized).tokens;
  let next = highestParam(normalized) + 1;
  const parts: string[] = [];
  let at = 0;
  for (const token of tokens) {
    const isComment = COMMENT_TOKENS.has(token.tokenName);
    const isLiteral = !isComment && (LITERAL_TOKENS.has(token.tokenName) || token.text.includes("'") ||
      (token.text.startsWith('$') && token.tokenName !== 'PARAM'));
    if (!isComment && !isLiteral) continue;
    parts.push(bytes.subarray(at, token.start).toString('utf8'));
    if (isLiteral) parts.push(`$${next++}`);
    at = token.end;
  }
  if (parts.length === 0) return normalized;
  parts.push(bytes.subarray(at).toString('utf8'));
  return parts.join('').replace(/[ \t]+\n/g, '\n').trim();
}

function highestParam(text: string): number {
  let max = 0;
  for (const m of text.matchAll(/\$(\d+)/g)) max = Math.max(max, Number(m[1]));
  return max;
}
