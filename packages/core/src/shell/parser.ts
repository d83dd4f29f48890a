// Parses shell text with mvdan/sh's bash parser (the mvdan-sh package, a synchronous GopherJS
// build): the one place that knows the library and the shape of its syntax tree.
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
export interface ShAssign { Value: ShWord | null }
/** Any node; narrow it with nodeType. */
export type ShNode = object;

/** Redirect operators as mvdan/sh numbers its tokens (checked by parser.test.ts). */
export const REDIRECT = { input: 56, hdoc: 61, dashHdoc: 62, wordHdoc: 63 } as const;
/** `${x@OP}` parameter transformations (checked by analyze.test.ts). */
export const PARAM_TRANSFORM = 84;

interface Syntax {
  NewParser(): { Parse(src: string, name: string): ShFile };
  NodeType(node: unknown): string;
  Walk(node: unknown, visit: (node: ShNode | null) => boolean): void;
}

function syntax(): Syntax {
  return (require('mvdan-sh') as { syntax: Syntax }).syntax;
}

/** Loads the parser (about 80 ms the first time). Parsing works without it; this only moves the cost to start-up. */
export function loadShellParser(): Promise<void> {
  syntax();
  return Promise.resolve();
}

export type ParseResult = { ok: true; file: ShFile } | { ok: false; error: string };

/** Parses bash text; a syntax error is a value. */
export function parseShell(text: string): ParseResult {
  try {
    return { ok: true, file: syntax().NewParser().Parse(text, '') };
  } catch (err) {
    return { ok: false, error: goErrorMessage(err) };
  }
}

// GopherJS throws Go errors as objects with an Error() method; JavaScript errors may come too.
function goErrorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  const method = (err as { Error?: unknown } | null)?.Error;
  return typeof method === 'function' ? String(method.call(err)) : 'unparseable shell text';
}

export function nodeType(node: unknown): string {
  return syntax().NodeType(node);
}

/** Visits every node below `node`, depth first, parents before children. */
export function walk(node: ShNode, visit: (node: ShNode) => void): void {
  syntax().Walk(node, (n) => {
    if (n !== null && n !== undefined) visit(n);
    return true;
  });
}
