// Parses shell text with mvdan/sh's bash parser (the mvdan-sh package, a synchronous GopherJS
// build) into plain objects: the one place that knows the library and its representation.
import { createRequire } from 'node:module';

// mvdan-sh is CommonJS without types. Loading it through require keeps parsing synchronous and
// leaves the single loaded copy in Node's own module cache (no singleton of ours).
const require = createRequire(import.meta.url);

/** The nodes of mvdan/sh's syntax tree (pkg.go.dev/mvdan.cc/sh/v3/syntax) that analysis reads. */
export interface ShFile { Stmts: ShStmt[] }
export interface ShStmt { Cmd: ShNode | null; Redirs: ShRedirect[] }
export interface ShRedirect { Op: number; Word: ShWord | null; Hdoc: ShWord | null }
export interface ShWord { Parts: ShNode[] }
export interface ShCallExpr { Args: ShWord[] }
export interface ShLit { Value: string }
export interface ShSglQuoted { Dollar: boolean; Value: string }
export interface ShDblQuoted { Dollar: boolean; Parts: ShNode[] }
export interface ShParamExp { Short: boolean; Param: ShLit | null; Exp: { Op: number; Word: ShWord | null } | null }
export interface ShAssign { Name: ShLit | null; Value: ShWord | null }
/** Any node; narrow it with nodeType. */
export type ShNode = object;

/** Redirect operators as mvdan/sh numbers its tokens (checked by parser.test.ts). */
export const REDIRECT = { input: 56, hdoc: 61, dashHdoc: 62, wordHdoc: 63 } as const;
/** `${x@OP}` parameter transformations (checked by analyze.test.ts). */
export const PARAM_TRANSFORM = 84;

interface Syntax {
  NewParser(): { Parse(src: string, name: string): { __internal_object__: unknown } };
  IsIncomplete(err: unknown): boolean;
}

function syntax(): Syntax {
  // GopherJS's start-up sets globalThis.require, which makes libraries that probe for CommonJS
  // take the wrong path; the parser never uses it (only Go's syscall package would).
  const hadRequire = Object.prototype.hasOwnProperty.call(globalThis, 'require');
  const module = require('mvdan-sh') as { syntax: Syntax };
  if (!hadRequire) delete (globalThis as { require?: unknown }).require;
  return module.syntax;
}

/** Loads the parser (0.1 to 0.5 s the first time). Parsing works without it; this only moves the cost to start-up. */
export function loadShellParser(): Promise<void> {
  syntax();
  return Promise.resolve();
}

/** incomplete: more text could complete it (an open quote, `if` without `fi`, a trailing `|`). */
export type ParseResult = { ok: true; file: ShFile } | { ok: false; error: string; incomplete: boolean };

/** Parses bash text; a syntax error is a value. */
export type ShellParser = (text: string) => ParseResult;

/**
 * A parser to reuse: making one costs about as much as parsing a short line. Parsing is
 * synchronous and keeps no state between calls, so one parser serves nested parses too.
 */
export function createShellParser(): ShellParser {
  const parser = syntax().NewParser();
  return (text) => parseWith(parser, text);
}

/** Parses bash text with a new parser; a syntax error is a value. */
export function parseShell(text: string): ParseResult {
  return parseWith(syntax().NewParser(), text);
}

function parseWith(parser: ReturnType<Syntax['NewParser']>, text: string): ParseResult {
  let raw: unknown;
  try {
    raw = parser.Parse(text, '').__internal_object__;
  } catch (err) {
    return { ok: false, error: goErrorMessage(err), incomplete: isIncomplete(err) };
  }
  const file = plainNode(raw);
  return file === null ? { ok: false, error: 'the shell parser returned no syntax tree', incomplete: false } : { ok: true, file: file as unknown as ShFile };
}

function isIncomplete(err: unknown): boolean {
  try {
    return !(err instanceof Error) && syntax().IsIncomplete(err);
  } catch {
    return false;
  }
}

// GopherJS throws Go errors as objects with an Error() method; JavaScript errors may come too.
function goErrorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  const method = (err as { Error?: unknown } | null)?.Error;
  return typeof method === 'function' ? decodeGoString(String(method.call(err))) : 'unparseable shell text';
}

/**
 * The tree as plain objects, `type` naming the Go type. mvdan-sh's own accessors (NodeType, Walk,
 * field getters) wrap every value through reflection, about 100 µs per node; reading GopherJS's
 * representation directly costs microseconds for a whole line. That representation is fixed for
 * the locked mvdan-sh 0.10.1, its last release (parser.test.ts fails on another): a struct pointer is an object whose
 * constructor.string is its Go type and which equals constructor.nil when nil, a slice is
 * { $array, $offset, $length }, a string holds UTF-8 bytes one per character.
 */
type Plain = { type: string; [field: string]: unknown };

function plainNode(raw: unknown): Plain | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const ctor = (raw as { constructor?: { string?: unknown; nil?: unknown } }).constructor;
  const goType = ctor?.string;
  if (typeof goType !== 'string' || !goType.startsWith('*syntax.') || raw === ctor?.nil || SKIPPED_TYPES.has(goType)) return null;
  const node: Plain = { type: goType.slice('*syntax.'.length) };
  for (const [key, value] of Object.entries(raw)) {
    if (key === '$val' || SKIPPED_TYPES.has((value as { constructor?: { string?: string } } | null)?.constructor?.string ?? '')) continue;
    node[key] = plainValue(value);
  }
  return node;
}

// Positions and comments: analysis needs neither.
const SKIPPED_TYPES = new Set(['*syntax.Pos', '*syntax.Comment']);

function plainValue(value: unknown): unknown {
  if (typeof value === 'string') return decodeGoString(value);
  if (typeof value !== 'object' || value === null) return value;
  const slice = value as { $array?: unknown[]; $offset?: number; $length?: number };
  if (Array.isArray(slice.$array) && typeof slice.$offset === 'number' && typeof slice.$length === 'number') {
    const out: unknown[] = [];
    for (let i = 0; i < slice.$length; i++) out.push(plainValue(slice.$array[slice.$offset + i]));
    return out;
  }
  return plainNode(value);
}

function decodeGoString(bytes: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(bytes) ? bytes : Buffer.from(bytes, 'latin1').toString('utf8');
}

export function nodeType(node: object): string {
  return (node as Plain).type;
}

/** Visits every node below `node`, depth first, parents before children, fields in Go order. */
export function walk(node: object, visit: (node: object) => void): void {
  visit(node);
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) {
      for (const item of value) if (typeof item === 'object' && item !== null) walk(item as object, visit);
    } else if (typeof value === 'object' && value !== null) walk(value, visit);
  }
}
