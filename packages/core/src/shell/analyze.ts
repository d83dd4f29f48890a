// Finds every simple command a shell command line would run: through lists, pipes, sub-shells,
// substitutions and here-documents, with wrappers (sudo, env, sh -c, xargs…) unwrapped and the
// strings handed to nested shells parsed again. What cannot be known statically is marked dynamic.
import { PARAM_TRANSFORM, REDIRECT, createShellParser, nodeType, walk } from './parser.js';
import type { ParseResult, ShellParser, ShAssign, ShCallExpr, ShLit, ShParamExp, ShRedirect, ShStmt, ShWord } from './parser.js';
import { WRAPPERS, codeInVariable } from './wrappers.js';
import type { Inner, WrapperContext } from './wrappers.js';
import { resolveHeredoc, resolveWord } from './words.js';
import type { ResolvedWord } from './words.js';

export { loadShellParser } from './parser.js';

export interface SimpleCommand {
  /** The program's base name (`/bin/rm` → `rm`, `.` → `source`); a stand-in such as `$X` when dynamic. */
  program: string;
  args: string[];
  /** true when a word could not be resolved statically ($VAR, $(…), globs) */
  dynamic: boolean;
  /** The program itself is unknown (`$X -rf /`, `bash -c "$CMD"`, a shell reading its input). */
  dynamicProgram: boolean;
  /** Indexes into args of the words that are dynamic (their text is a stand-in). */
  dynamicArgs: number[];
}

/**
 * incomplete: the line could still be completed by more text (an open quote, `if` without `fi`,
 * a trailing `|`): a shell prompt would ask for another line.
 */
export type CommandAnalysis = { ok: true; commands: SimpleCommand[] } | { ok: false; error: string; incomplete?: boolean };

/** Nested shells (`sh -c "sh -c '…'"`, eval) parsed again at most this deep. */
export const MAX_NESTING = 8;
/** Longer command lines are refused rather than analysed. */
export const MAX_LINE_LENGTH = 64 * 1024;
/**
 * Text parsed for one line, nested shells included: parsing costs 1 to 3 µs per character, so
 * this bounds one analysis to a few hundred milliseconds at worst.
 */
export const MAX_PARSED = 96 * 1024;
/** Wrappers unwrapped in one command (`env env … rm`). */
const MAX_UNWRAP = 32;
/** Simple commands in one line, nested ones included. */
const MAX_COMMANDS = 4096;

/** Every simple command the line would run, wrappers unwrapped, nested shells parsed again. */
export function analyzeCommandLine(line: string, parse: ShellParser = createShellParser()): CommandAnalysis {
  if (line.length > MAX_LINE_LENGTH) return { ok: false, error: `command line longer than ${MAX_LINE_LENGTH} characters` };
  if (line.includes('\0')) return { ok: false, error: 'command line contains a NUL character' };
  const commands: SimpleCommand[] = [];
  let error: string | undefined;
  try {
    const first = parse(line);
    if (!first.ok) return { ok: false, error: first.error, incomplete: first.incomplete };
    error = analyzeScript(line, 0, { parse, out: commands, parsed: line.length }, first);
  } catch (err) {
    // Deep nesting can exhaust the stack in the tree walk: the line is refused, never a crash.
    error = err instanceof RangeError ? 'command line nested too deeply to analyse' : `command line could not be analysed: ${String(err)}`;
  }
  return error === undefined ? { ok: true, commands } : { ok: false, error };
}

/**
 * An argument vector run without a shell (Kubernetes pods/exec `command`): the words are taken
 * as they are, then wrappers unwrapped and `sh -c` strings parsed as for a command line.
 */
export function analyzeArgv(argv: readonly string[], parse: ShellParser = createShellParser()): CommandAnalysis {
  if (argv.reduce((n, w) => n + w.length + 1, 0) > MAX_LINE_LENGTH) return { ok: false, error: `command longer than ${MAX_LINE_LENGTH} characters` };
  if (argv.some((w) => w.includes('\0'))) return { ok: false, error: 'command contains a NUL character' };
  const commands: SimpleCommand[] = [];
  let error: string | undefined;
  try {
    error = analyzeCall(argv.map((text) => ({ text, dynamic: false })), [], 0, { parse, out: commands, parsed: 0 });
  } catch (err) {
    error = err instanceof RangeError ? 'command nested too deeply to analyse' : `command could not be analysed: ${String(err)}`;
  }
  return error === undefined ? { ok: true, commands } : { ok: false, error };
}

/** One analysis: the parser it uses and the commands found so far. */
interface Run {
  readonly parse: ShellParser;
  readonly out: SimpleCommand[];
  /** Characters parsed so far (MAX_PARSED). */
  parsed: number;
}

function analyzeScript(text: string, depth: number, run: Run, parsedAlready?: ParseResult): string | undefined {
  if (depth > MAX_NESTING) return `shells nested deeper than ${MAX_NESTING} levels`;
  if (parsedAlready === undefined) {
    run.parsed += text.length;
    if (run.parsed > MAX_PARSED) return `more than ${MAX_PARSED} characters of nested shell text`;
  }
  const parsed = parsedAlready ?? run.parse(text);
  if (!parsed.ok) return depth === 0 ? parsed.error : `nested shell text: ${parsed.error}`;
  const out = run.out;
  let error: string | undefined;
  // Every statement anywhere in the tree: lists, pipes, blocks, loops, function bodies, and the
  // statements inside $(…), `…`, <(…), ${x:-$(…)} and unquoted here-document bodies.
  walk(parsed.file, (node) => {
    if (error !== undefined) return;
    const type = nodeType(node);
    if (type === 'Assign') {
      const assign = node as ShAssign;
      const code = assign.Name !== null && assign.Value !== null ? codeInVariable(assign.Name.Value, resolveWord(assign.Value)) : undefined;
      if (code !== undefined) error = analyzeCall([], [], depth, run, [code]);
      error ??= analyzeAssignedCode(assign, depth, run);
    }
    if (type === 'Word') error ??= analyzeSubscriptCode(node as ShWord, depth, run);
    if (type === 'ParamExp' && isPromptExpansion(node as ShParamExp)) {
      out.push(unknownCommand('${…@P} prompt expansion, which runs the command substitutions in a value'));
    }
    if (type !== 'Stmt') return;
    const stmt = node as ShStmt;
    if (stmt.Cmd === null || nodeType(stmt.Cmd) !== 'CallExpr') return;
    const args = (stmt.Cmd as ShCallExpr).Args;
    if (args.length === 0) return; // only assignments: `X=rm`
    error = analyzeCall(args.map(resolveWord), stmt.Redirs, depth, run);
  });
  if (error === undefined && out.length > MAX_COMMANDS) error = `more than ${MAX_COMMANDS} commands`;
  return error;
}

function analyzeCall(words: ResolvedWord[], redirs: readonly ShRedirect[], depth: number, run: Run, start: Inner[] = [{ kind: 'command', words }]): string | undefined {
  const out = run.out;
  const ctx: WrapperContext = { stdinScript: () => stdinScript(redirs) };
  const pending: Inner[] = [...start];
  for (let steps = 0; pending.length > 0; steps++) {
    if (steps > MAX_UNWRAP) return `more than ${MAX_UNWRAP} wrapper commands in one command`;
    const inner = pending.shift()!;
    switch (inner.kind) {
      case 'script': {
        const error = analyzeScript(inner.text, depth + 1, run);
        if (error !== undefined) return error;
        break;
      }
      case 'unknown':
        out.push(unknownCommand(inner.reason));
        break;
      case 'command': {
        const cmd = simpleCommand(inner.words);
        if (cmd === undefined) break;
        out.push(cmd);
        if (cmd.dynamicProgram) break;
        pending.push(...(WRAPPERS.get(cmd.program)?.(inner.words.slice(1), ctx) ?? []));
        break;
      }
    }
  }
  return undefined;
}

function unknownCommand(reason: string): SimpleCommand {
  return { program: `(${reason})`, args: [], dynamic: true, dynamicProgram: true, dynamicArgs: [] };
}

/**
 * A quoted value holding `$(…)` or backticks (`X='a[$(rm y)]'`) runs them if the variable is later
 * evaluated: arithmetic on `$X` or `${X@P}` does so without eval. Count them as run here.
 */
function analyzeAssignedCode(assign: ShAssign, depth: number, run: Run): string | undefined {
  if (assign.Value === null) return undefined;
  const value = resolveWord(assign.Value);
  if (value.dynamic || !(value.text.includes('$(') || value.text.includes('`'))) return undefined;
  return analyzeQuotedCode(value.text, depth, run);
}

function analyzeQuotedCode(code: string, depth: number, run: Run): string | undefined {
  // The text as the argument of `:`: its substitutions are what would run. Text that does not
  // parse cannot be evaluated as code either.
  const text = `: ${code}`;
  run.parsed += text.length;
  if (run.parsed > MAX_PARSED) return `more than ${MAX_PARSED} characters of nested shell text`;
  const parsed = run.parse(text);
  if (!parsed.ok) return undefined;
  const inner: Run = { parse: run.parse, out: [], parsed: run.parsed };
  const error = analyzeScript(text, depth + 1, inner, parsed);
  run.parsed = inner.parsed;
  run.out.push(...inner.out.slice(1));
  return error;
}

/**
 * A quoted array subscript holding a substitution (`'a[$(rm y)]'`) runs it wherever bash
 * evaluates the word as a variable reference or arithmetic: let, ((…)), declare -i, unset,
 * printf -v, read, [[ -v ]], test -v. Count it as run here.
 */
function analyzeSubscriptCode(word: ShWord, depth: number, run: Run): string | undefined {
  const w = resolveWord(word);
  if (w.dynamic || !/\[[^\]]*(\$\(|`)/.test(w.text)) return undefined;
  return analyzeQuotedCode(w.text, depth, run);
}

function isPromptExpansion(p: ShParamExp): boolean {
  if (p.Exp === null || p.Exp === undefined || p.Exp.Op !== PARAM_TRANSFORM || p.Exp.Word === null) return false;
  return p.Exp.Word.Parts.some((part) => nodeType(part) !== 'Lit' || (part as ShLit).Value.includes('P'));
}

function simpleCommand(words: readonly ResolvedWord[]): SimpleCommand | undefined {
  const [first, ...rest] = words;
  if (first === undefined) return undefined;
  const dynamicArgs = rest.flatMap((w, i) => (w.dynamic ? [i] : []));
  return {
    program: first.dynamic ? first.text : programName(first.text),
    args: rest.map((w) => w.text),
    dynamic: first.dynamic || dynamicArgs.length > 0,
    dynamicProgram: first.dynamic,
    dynamicArgs,
  };
}

/** What a policy names a program by: its base name, whatever directory it was run from. */
export function programName(text: string): string {
  const base = text.slice(text.lastIndexOf('/') + 1);
  return base === '.' ? 'source' : base;
}

/** What a shell reading its standard input runs: a here-document or here-string, or unknown. */
function stdinScript(redirs: readonly ShRedirect[]): Inner {
  // The last input redirection wins, as in the shell.
  const input = redirs.filter((r) => r.Op === REDIRECT.hdoc || r.Op === REDIRECT.dashHdoc || r.Op === REDIRECT.wordHdoc || r.Op === REDIRECT.input).at(-1);
  if (input === undefined) return { kind: 'unknown', reason: 'a shell reading commands from its input' };
  if (input.Op === REDIRECT.wordHdoc && input.Word !== null) {
    const w = resolveWord(input.Word);
    return w.dynamic ? { kind: 'unknown', reason: `a shell reading ${w.text}` } : { kind: 'script', text: w.text };
  }
  if ((input.Op === REDIRECT.hdoc || input.Op === REDIRECT.dashHdoc) && input.Hdoc !== null) {
    // A quoted delimiter (<<'EOF') makes the body literal; otherwise it is expanded like "…".
    const quoted = input.Word !== null && input.Word.Parts.some((p) => nodeType(p) !== 'Lit' || (p as ShLit).Value.includes('\\'));
    const body = quoted
      ? { text: input.Hdoc.Parts.map((p) => (nodeType(p) === 'Lit' ? (p as ShLit).Value : '')).join(''), dynamic: false }
      : resolveHeredoc(input.Hdoc);
    return body.dynamic ? { kind: 'unknown', reason: 'a shell reading an expanded here-document' } : { kind: 'script', text: body.text };
  }
  return { kind: 'unknown', reason: 'a shell reading commands from a file' };
}
