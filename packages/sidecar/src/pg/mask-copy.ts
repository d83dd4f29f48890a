// Masking of COPY … TO STDOUT rows (one CopyData message per row, as the server sends them) in
// text and CSV format with the default delimiter, quote, escape and NULL spelling. Binary COPY and
// other options are not rewritten (mask-stream.ts refuses them when a masked column is in the copy).
import type { MaskTally, RowPlan } from './mask-rows.js';

export type CopyFormat = 'text' | 'csv' | 'text-header' | 'csv-header' | 'binary' | 'unsupported';

/** The row format from the COPY statement's options (the text after TO STDOUT). */
export function copyFormatOf(text: string | undefined): CopyFormat {
  if (text === undefined) return 'text';
  const lower = text.toLowerCase();
  const at = lower.search(/\bto\s+stdout\b(?![\s\S]*\bto\s+stdout\b)/);
  const options = at < 0 ? '' : lower.slice(at);
  if (/\b(delimiter|quote|escape|null|force_quote|force_not_null|force_null|encoding)\b/.test(options)) return 'unsupported';
  const csv = /\bcsv\b/.test(options);
  if (/\bbinary\b/.test(options)) return 'binary';
  const header = /\bheader\b/.test(options);
  if (csv) return header ? 'csv-header' : 'csv';
  return header ? 'text-header' : 'text';
}

/** State across a COPY's rows: whether the header line is still to come. */
export interface CopyState { format: CopyFormat; headerPending: boolean }

/**
 * The CopyData `frame` with masks applied: a new message, null when unchanged, undefined when the
 * row does not split into the plan's column count (the caller refuses: fail closed).
 */
export function rewriteCopyRow(frame: Buffer, plan: RowPlan, state: CopyState, tally: MaskTally): Buffer | null | undefined {
  if (state.headerPending) { state.headerPending = false; return null; }
  const csv = state.format === 'csv' || state.format === 'csv-header';
  const line = frame.toString('utf8', 5);
  const nl = line.endsWith('\r\n') ? 2 : line.endsWith('\n') ? 1 : 0;
  const body = line.slice(0, line.length - nl);
  const fields = csv ? splitCsv(body) : body.split('\t');
  if (fields === undefined) return undefined;
  const count = plan.enc.length;
  if (fields.length !== count) return undefined;
  let changed = false;
  for (let i = 0; i < count; i++) {
    const raw = fields[i] as string;
    const value = csv ? csvValue(raw) : textValue(raw);
    if (value === null) continue;
    const mask = plan.columns[i];
    let masked: string | null | undefined;
    if (mask !== undefined) {
      tally.column(mask.rule);
      masked = mask.text(value);
    } else if (plan.detect !== undefined && value.length >= 6) {
      const found = plan.detect(value);
      if (found === undefined) continue;
      for (const h of found.hits) tally.detector(h.rule, h.detector);
      masked = found.text;
    } else {
      continue;
    }
    fields[i] = masked === null ? (csv ? '' : '\\N') : csv ? csvField(masked) : textField(masked);
    changed = true;
  }
  if (!changed) return null;
  const data = Buffer.from(fields.join(csv ? ',' : '\t') + line.slice(line.length - nl), 'utf8');
  const out = Buffer.allocUnsafe(5 + data.length);
  out[0] = frame[0] as number;
  out.writeInt32BE(4 + data.length, 1);
  data.copy(out, 5);
  return out;
}

/** Text format: `\N` is NULL; backslash escapes (COPY's text format, "Backslash characters"). */
function textValue(raw: string): string | null {
  if (raw === '\\N') return null;
  if (!raw.includes('\\')) return raw;
  return raw.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
    switch (e[0]) {
      case 'b': return '\b'; case 'f': return '\f'; case 'n': return '\n'; case 'r': return '\r'; case 't': return '\t'; case 'v': return '\v';
      case 'x': return String.fromCharCode(parseInt(e.slice(1), 16));
      default: return /^[0-7]/.test(e) ? String.fromCharCode(parseInt(e, 8)) : e;
    }
  });
}

function textField(v: string): string {
  return v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** Splits a CSV line into raw fields (quotes kept); undefined for an unterminated quote. */
function splitCsv(line: string): string[] | undefined {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x22) quoted = !quoted;
    else if (c === 0x2c && !quoted) { out.push(line.slice(start, i)); start = i + 1; }
  }
  if (quoted) return undefined;
  out.push(line.slice(start));
  return out;
}

/** CSV: an unquoted empty field is NULL; a quoted one has "" for each quote. */
function csvValue(raw: string): string | null {
  if (raw === '') return null;
  if (raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2) return raw.slice(1, -1).replaceAll('""', '"');
  return raw;
}

function csvField(v: string): string {
  return v === '' || /[",\r\n]/.test(v) || v === '\\.' ? `"${v.replaceAll('"', '""')}"` : v;
}
