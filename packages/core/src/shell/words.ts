// Resolves shell words to the text the shell would pass, when that is knowable without running
// anything: quotes removed, escapes and $'…' decoded; expansions make a word dynamic.
import { nodeType } from './parser.js';
import type { ShDblQuoted, ShLit, ShNode, ShParamExp, ShSglQuoted, ShWord } from './parser.js';

export interface ResolvedWord {
  /** The word as the program would see it; for a dynamic word, a readable stand-in such as `$X`. */
  text: string;
  /** Expansion (parameters, command or process substitution, arithmetic, globs, braces, `~`) decides it at run time. */
  dynamic: boolean;
}

export function resolveWord(word: ShWord): ResolvedWord {
  let text = '';
  let dynamic = false;
  word.Parts.forEach((part, i) => {
    const r = resolvePart(part, i === 0);
    text += r.text;
    dynamic ||= r.dynamic;
  });
  return { text, dynamic };
}

function resolvePart(part: ShNode, first: boolean): ResolvedWord {
  switch (nodeType(part)) {
    case 'Lit': return unquotedLit((part as ShLit).Value, first);
    case 'SglQuoted': {
      const q = part as ShSglQuoted;
      return { text: q.Dollar ? decodeAnsiC(q.Value) : q.Value, dynamic: false };
    }
    case 'DblQuoted': {
      // $"…" is a locale translation of the same text; treat it as "…".
      let text = '';
      let dynamic = false;
      for (const inner of (part as ShDblQuoted).Parts) {
        const r = nodeType(inner) === 'Lit' ? { text: unescapeDoubleQuoted((inner as ShLit).Value), dynamic: false } : resolvePart(inner, false);
        text += r.text;
        dynamic ||= r.dynamic;
      }
      return { text, dynamic };
    }
    case 'ParamExp': {
      const name = (part as ShParamExp).Param?.Value ?? '';
      return { text: (part as ShParamExp).Short ? `$${name}` : `\${${name}}`, dynamic: true };
    }
    case 'CmdSubst': return { text: '$(…)', dynamic: true };
    case 'ArithmExp': return { text: '$((…))', dynamic: true };
    case 'ProcSubst': return { text: '<(…)', dynamic: true };
    default: return { text: '…', dynamic: true }; // ExtGlob and anything newer: unknown, so dynamic
  }
}

/**
 * An unquoted literal: backslash quotes the next character. Unescaped glob characters (`*`,
 * `?`, `[…]`), brace expansion (`{a,b}`, `{1..3}`; not `{}`) and a leading `~` expand at run time.
 */
function unquotedLit(raw: string, first: boolean): ResolvedWord {
  let text = '';
  let dynamic = first && raw.startsWith('~');
  let openBracket = false;
  let brace: string | undefined; // text since an unescaped `{`
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      i++;
      if (i < raw.length && raw[i] !== '\n') text += raw[i];
      continue;
    }
    if (c === '*' || c === '?') dynamic = true;
    else if (c === '[') openBracket = true;
    else if (c === ']' && openBracket) dynamic = true;
    else if (c === '{') brace = '';
    else if (c === '}' && brace !== undefined) {
      if (brace.includes(',') || brace.includes('..')) dynamic = true;
      brace = undefined;
    } else if (brace !== undefined) brace += c;
    text += c;
  }
  return { text, dynamic };
}

/** Inside "…" a backslash quotes only $ ` " \ and newline. */
function unescapeDoubleQuoted(raw: string): string {
  return raw.replace(/\\([$`"\\\n])/g, (_, c: string) => (c === '\n' ? '' : c));
}

/** Text of an unquoted here-document body: like "…", with expansions handled by the caller. */
export function resolveHeredoc(word: ShWord): ResolvedWord {
  let text = '';
  let dynamic = false;
  for (const part of word.Parts) {
    const r = nodeType(part) === 'Lit' ? { text: unescapeDoubleQuoted((part as ShLit).Value), dynamic: false } : resolvePart(part, false);
    text += r.text;
    dynamic ||= r.dynamic;
  }
  return { text, dynamic };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?',
};

/** bash's $'…' (ANSI-C quoting): \xHH, \NNN, \uHHHH, \UHHHHHHHH, \cX and the letter escapes. */
export function decodeAnsiC(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '\\' || i + 1 >= raw.length) {
      out += c;
      continue;
    }
    const e = raw[++i]!;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) { out += simple; continue; }
    const hex = (max: number) => {
      const m = /^[0-9a-fA-F]+/.exec(raw.slice(i + 1, i + 1 + max));
      if (m === null) return undefined;
      i += m[0].length;
      return parseInt(m[0], 16);
    };
    if (e === 'x' || e === 'u' || e === 'U') {
      const code = hex(e === 'x' ? 2 : e === 'u' ? 4 : 8);
      if (code === undefined) out += `\\${e}`;
      else out += e === 'x' ? String.fromCharCode(code) : safeCodePoint(code);
    } else if (e >= '0' && e <= '7') {
      const m = /^[0-7]{1,3}/.exec(raw.slice(i))!;
      i += m[0].length - 1;
      out += String.fromCharCode(parseInt(m[0], 8) & 0xff);
    } else if (e === 'c' && i + 1 < raw.length) {
      out += String.fromCharCode(raw.charCodeAt(++i) & 0x1f);
    } else {
      out += `\\${e}`;
    }
  }
  // bash stops the string at a NUL byte.
  const nul = out.indexOf('\0');
  const text = nul === -1 ? out : out.slice(0, nul);
  // \xHH and \NNN give bytes: `$'\xc3\xa9'` is é in UTF-8.
  const bytes = [...text].every((c) => c.charCodeAt(0) <= 0xff) && /[\x80-\xff]/.test(text);
  return bytes ? Buffer.from(text, 'latin1').toString('utf8') : text;
}

function safeCodePoint(code: number): string {
  return code <= 0x10ffff ? String.fromCodePoint(code) : '\ufffd';
}
