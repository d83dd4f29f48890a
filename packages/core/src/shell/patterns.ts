// Command patterns of shell rules (`rm`, `systemctl restart *`, `kubectl delete *`) and how they
// match one simple command.
import { programName } from './analyze.js';
import type { SimpleCommand } from './analyze.js';

export interface CommandPattern {
  readonly source: string;
  /** `*` matches every program, dynamic ones included. */
  readonly anyProgram: boolean;
  readonly program: (name: string) => boolean;
  /** Argument patterns before a trailing lone `*`; none means any arguments. */
  readonly args: readonly ((arg: string) => boolean)[];
  /** Ends in a lone `*`: any further arguments. */
  readonly rest: boolean;
}

/** Words split on white space; `*` in a word matches any run of characters. */
export function compileCommandPattern(source: string): CommandPattern {
  const [program = '', ...args] = source.trim().split(/\s+/);
  const rest = args.at(-1) === '*';
  const fixed = rest ? args.slice(0, -1) : args;
  return {
    source,
    anyProgram: program === '*',
    program: compileGlob(programName(program)),
    args: fixed.map(compileGlob),
    // `rm` alone means rm with any arguments.
    rest: rest || args.length === 0,
  };
}

/**
 * Restrictive rules (deny, approve) catch a command when its program matches and the pattern's
 * arguments appear in order among its arguments, anything between or after them: options put in
 * between (`kubectl -n prod delete pod x` against `kubectl delete *`) do not slip past, and a
 * dynamic argument could be anything, so it matches any pattern word. Allow rules match
 * position by position; a dynamic argument is covered only by the trailing `*`. A dynamic
 * program is matched only by the program pattern `*`.
 */
export function matchCommand(p: CommandPattern, cmd: SimpleCommand, restrictive: boolean): boolean {
  if (cmd.dynamicProgram) return p.anyProgram;
  if (!p.program(cmd.program)) return false;
  const dynamic = new Set(cmd.dynamicArgs);
  if (restrictive) {
    let at = 0;
    for (const arg of p.args) {
      while (at < cmd.args.length && !dynamic.has(at) && !arg(cmd.args[at]!)) at++;
      if (at >= cmd.args.length) return false;
      at++;
    }
    return true;
  }
  if (cmd.args.length < p.args.length || (!p.rest && cmd.args.length !== p.args.length)) return false;
  for (let i = 0; i < p.args.length; i++) {
    if (dynamic.has(i) || !p.args[i]!(cmd.args[i]!)) return false;
  }
  return true;
}

function compileGlob(pattern: string): (text: string) => boolean {
  if (pattern === '*') return () => true;
  if (!pattern.includes('*')) return (text) => text === pattern;
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
  return (text) => re.test(text);
}
