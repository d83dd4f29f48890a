// Decides shell command lines and SSH session operations against the compiled policies of one
// connection (SSH, and the exec of Kubernetes pods). Compiled once per bundle; decisions cached
// by exact command line.
import type { Decision } from '../decision.js';
import { ACTION_RANK, compileRuleSet, defaultDecision, noPolicyDecision, ruleDecision } from '../policy/compile-common.js';
import type { CompiledRuleBase, CompiledRuleSet } from '../policy/compile-common.js';
import type { AccessPolicyDoc, ShellOperation } from '../policy/types.js';
import { analyzeArgv, analyzeCommandLine } from './analyze.js';
import type { CommandAnalysis, SimpleCommand } from './analyze.js';
import { compileCommandPattern, matchCommand } from './patterns.js';
import { createShellParser } from './parser.js';
import type { ShellParser } from './parser.js';
import type { CommandPattern } from './patterns.js';

export interface CompiledShellRule extends CompiledRuleBase {
  readonly commands: readonly CommandPattern[] | undefined;
  readonly operations: ReadonlySet<ShellOperation> | undefined;
}

export interface CompiledShellPolicy extends CompiledRuleSet<CompiledShellRule> {
  /** Decisions by operation and exact line, oldest dropped first past CACHE_LIMIT. */
  readonly cache: Map<string, ShellCommandDecision>;
  readonly parse: ShellParser;
}

/** The decision plus the programs the line runs, for records and metrics. */
export type ShellCommandDecision = Decision & { programs: string[] };

/** Operations a command line arrives by: an exec request, or a line typed at a shell prompt. */
export type CommandOperation = Extract<ShellOperation, 'exec' | 'shell'>;

const CACHE_LIMIT = 1024;
/** Forwarding opens ways around the command policy: denied unless a rule allows it. */
const DENIED_UNLESS_ALLOWED: ReadonlySet<ShellOperation> = new Set(['port-forward', 'agent-forward']);

export function compileShellPolicy(policies: readonly AccessPolicyDoc[], connection: string): CompiledShellPolicy {
  const set = compileRuleSet<CompiledShellRule>(policies, connection, {
    family: 'shell',
    compileRule: (match, base) => ({
      ...base,
      commands: match.commands?.map(compileCommandPattern),
      operations: match.operations === undefined ? undefined : new Set(match.operations),
    }),
  });
  return { ...set, cache: new Map(), parse: createShellParser() };
}

/**
 * deny > approve > allow over every simple command of the line: a deny or approve rule catches
 * the line when any command matches it; the line is allowed only when every command is allowed
 * (by a rule or the default). An unparseable line, or a command whose program cannot be known
 * statically, is denied unless a rule for the program `*` decides it (fail closed).
 */
export function decideCommand(p: CompiledShellPolicy, line: string, operation: CommandOperation = 'exec'): ShellCommandDecision {
  // Lines and argument vectors keep apart by their first character, whatever the text holds.
  const key = `L${operation}\0${line}`;
  const hit = p.cache.get(key);
  if (hit !== undefined) return hit;
  const decision = Object.freeze(decideAnalysis(p, analyzeCommandLine(line, p.parse), operation));
  remember(p, key, decision);
  return decision;
}

/**
 * decideCommand for an argument vector run without a shell (Kubernetes pods/exec `command`
 * parameters): `["sh", "-c", "rm x"]` is decided as the rm it runs.
 */
export function decideArgv(p: CompiledShellPolicy, argv: readonly string[], operation: CommandOperation = 'exec'): ShellCommandDecision {
  const key = `A${operation}\0${JSON.stringify(argv)}`;
  const hit = p.cache.get(key);
  if (hit !== undefined) return hit;
  const decision = Object.freeze(decideAnalysis(p, analyzeArgv(argv, p.parse), operation));
  remember(p, key, decision);
  return decision;
}

function remember(p: CompiledShellPolicy, key: string, decision: ShellCommandDecision): void {
  if (p.cache.size >= CACHE_LIMIT) p.cache.delete(p.cache.keys().next().value!);
  p.cache.set(key, decision);
}

/** decideCommand for an already analysed line (policy check explains with it). */
export function decideAnalysis(p: CompiledShellPolicy, analysis: CommandAnalysis, operation: CommandOperation = 'exec'): ShellCommandDecision {
  if (p.policies.length === 0) {
    return { ...noPolicyDecision(p.connection), programs: [] };
  }
  if (!analysis.ok) {
    return { action: 'deny', policy: '', rule: 'unparseable', message: `command line could not be parsed and is denied: ${analysis.error}`, programs: [] };
  }
  const programs = [...new Set(analysis.commands.map((c) => c.program))];
  let strongest: Decision | undefined;
  for (const c of analysis.commands) {
    const d = decideSimpleCommand(p, c, operation);
    if (strongest === undefined || strength(d) < strength(strongest)) strongest = d;
  }
  // A line with no command (empty, comments, assignments only) runs nothing.
  return { ...(strongest ?? { action: 'allow', policy: '', rule: 'empty' }), programs };
}

// Deny wins, then approve, then allow; a deny naming a policy rule is reported before a default
// or built-in one, so that `sudo rm` under `allow [ls]` says which rule forbids rm.
function strength(d: Decision): number {
  if (d.action !== 'deny') return ACTION_RANK[d.action];
  return d.rule === 'default' || d.policy === '' ? 0.5 : 0;
}

/** One simple command: the first matching rule in precedence order, else the built-in or default. */
export function decideSimpleCommand(p: CompiledShellPolicy, c: SimpleCommand, operation: CommandOperation = 'exec'): Decision {
  for (const r of p.rules) {
    if (matchShellRule(r, c, operation)) return ruleDecision(r, () => `command "${c.program}"`);
  }
  if (c.dynamicProgram) {
    // Unknown content is named `(reason)` by analyze.ts; a dynamic word by its stand-in (`$X`).
    const what = c.program.startsWith('(') ? `what runs cannot be known before it runs ${c.program}` : `the program ${c.program} cannot be known before it runs`;
    return { action: 'deny', policy: '', rule: 'dynamic-program', message: `${what} and is denied` };
  }
  return defaultDecision(p, () => `command "${c.program}"`);
}

/**
 * A rule matches a command when each criterion it gives matches: its operations include the one
 * the line came by, and one of its command patterns matches (restrictively for deny and approve).
 */
export function matchShellRule(r: CompiledShellRule, c: SimpleCommand, operation: CommandOperation): boolean {
  if (r.operations !== undefined && !r.operations.has(operation)) return false;
  if (r.commands === undefined) return true;
  const restrictive = r.action !== 'allow';
  return r.commands.some((pattern) => matchCommand(pattern, c, restrictive));
}

/**
 * An SSH operation: rules that name operations and no commands decide it. Otherwise exec is
 * allowed here, since each command line is decided by decideCommand (which applies the same
 * operation rules to every command: call it alone for an exec, or an approve rule holds twice);
 * shell and file transfer get the policies' default; forwarding is denied.
 */
export function decideOperation(p: CompiledShellPolicy, op: ShellOperation): Decision {
  if (p.policies.length === 0) {
    return noPolicyDecision(p.connection);
  }
  for (const r of p.rules) {
    if (r.commands === undefined && r.operations !== undefined && r.operations.has(op)) return ruleDecision(r, () => op);
  }
  if (op === 'exec') return { action: 'allow', policy: p.policies[0] ?? '', rule: 'per-command' };
  if (DENIED_UNLESS_ALLOWED.has(op)) {
    return { action: 'deny', policy: '', rule: 'forwarding', message: `${op} is denied unless a policy rule allows it` };
  }
  return defaultDecision(p, () => op);
}
