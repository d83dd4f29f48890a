// Redacts literal values from SQL text before it is recorded: literals become $n, comments go.
// The parser decides (libpg-query normalize); with a RedactionCache, a statement whose shape was
// redacted before is redacted from the shape lexer's literal spans, without parsing.
import { normalizeSync, parseSync, scanSync } from 'libpg-query';
import { shapeKeyWithSpans, SPAN_COMMENT } from './shape-key.js';

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
export function redactLiterals(text: string, cache?: RedactionCache): string {
  if (text.trim() === '') return '';
  if (text.includes('\0')) return UNPARSEABLE_REDACTED; // the parser would stop at NUL, hiding the rest
  return cache ? cache.redact(text) : redactByParser(text);
}

function redactByParser(text: string): string {
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

/**
 * How statements of one shape are redacted from the lexer's spans: every literal the shape key
 * marks becomes $firstParam, $firstParam+1, … in order (a `-` right before a number goes with it
 * when `foldMinus`, as the parser folds negative constants); comments go. null: parse each time.
 */
type Plan = { firstParam: number; foldMinus: boolean } | null;

/**
 * Per-shape redaction plans, learnt from the parser: the first statement of a shape is redacted
 * by the parser, and the plan is kept only if redacting that statement from its spans gives the
 * very same text. Statements of one shape have the same tokens but for literal values, spacing
 * and comments, so the parser treats their literals alike. Bounded; one per owner (no globals).
 */
export class RedactionCache {
  private readonly plans = new Map<string, Plan>();
  private readonly spans: number[] = [];
  private fast = 0;
  private parsed = 0;

  constructor(private readonly maxShapes = 4096) {}

  redact(text: string): string {
    const spans = this.spans;
    spans.length = 0;
    const key = shapeKeyWithSpans(text, spans);
    const plan = key === null ? null : this.plans.get(key);
    if (plan) {
      const fast = fromSpans(text, spans, plan);
      if (fast !== null) {
        this.fast++;
        return fast;
      }
    }
    this.parsed++;
    const parsed = redactByParser(text);
    if (key === null || plan !== undefined) return parsed;
    if (this.plans.size >= this.maxShapes) this.plans.delete(this.plans.keys().next().value as string);
    this.plans.set(key, parsed === UNPARSEABLE_REDACTED ? null : learn(text, spans, key, parsed));
    return parsed;
  }

  /** Statements redacted from spans, and by the parser. */
  stats(): { fast: number; parsed: number; shapes: number } {
    return { fast: this.fast, parsed: this.parsed, shapes: this.plans.size };
  }
}

function learn(text: string, spans: readonly number[], key: string, parsed: string): Plan {
  const firstParam = highestParam(key) + 1;
  for (const foldMinus of [false, true]) {
    if (fromSpans(text, spans, { firstParam, foldMinus }) === parsed) return { firstParam, foldMinus };
  }
  return null;
}

/** `text` redacted by plan; null when a folded `-` and its number hold a comment (then parse). */
function fromSpans(text: string, spans: readonly number[], plan: { firstParam: number; foldMinus: boolean }): string | null {
  let out = '';
  let at = 0;
  let param = plan.firstParam;
  let comments = false;
  for (let j = 0; j < spans.length; j += 3) {
    const start = spans[j]!;
    const end = spans[j + 1]!;
    const third = spans[j + 2]!;
    if (third === SPAN_COMMENT) {
      out += text.slice(at, start);
      at = end;
      comments = true;
      continue;
    }
    const from = plan.foldMinus && third >= 0 ? third : start;
    if (from < at) return null;
    out += `${text.slice(at, from)}$${param++}`;
    at = end;
  }
  out += text.slice(at);
  // As stripLeftovers: only when a comment went is the text tidied.
  return comments ? out.replace(/[ \t]+\n/g, '\n').trim() : out;
}
