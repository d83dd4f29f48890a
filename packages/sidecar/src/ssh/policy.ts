// What the SSH proxy asks of policy, and the SSH-specific choices made before asking: which env
// requests pass and how legacy scp execs are classified.
import type { Decision } from '@chaperone/core/decision';
import type { AccessPolicyDoc, ShellOperation } from '@chaperone/core/policy/types';
import { compileShellPolicy, decideCommand, decideOperation } from '@chaperone/core/shell/policy';

/**
 * The shell-command policy for one connection (core/shell's compileShellPolicy, bound): the
 * proxy calls it per exec, per line typed at a prompt, and per channel or file operation.
 */
export interface SshPolicy {
  /** `exec` for an exec request, `shell` for a line typed at a prompt. */
  decideCommand(line: string, via: 'exec' | 'shell'): Decision & { programs: string[] };
  decideOperation(op: ShellOperation): Decision;
}

/** The bundle's shell rules for one connection (core/shell; its parser loaded first). */
export function buildSshPolicy(policies: readonly AccessPolicyDoc[], connection: string): SshPolicy {
  const compiled = compileShellPolicy(policies, connection);
  return {
    decideCommand: (line, via) => decideCommand(compiled, line, via),
    decideOperation: (op) => decideOperation(compiled, op),
  };
}

/**
 * Environment variables an agent may set on the target (`env` requests). Names that change how
 * programs load or run (LD_PRELOAD, BASH_ENV, PATH, PROMPT_COMMAND…) could run code no command
 * line shows, so only locale and terminal variables pass; the rest are refused.
 */
export function envAllowed(name: string): boolean {
  return ENV_ALLOWED.has(name) || /^LC_[A-Z_]+$/.test(name);
}
const ENV_ALLOWED: ReadonlySet<string> = new Set(['LANG', 'LANGUAGE', 'TZ', 'TERM', 'COLORTERM', 'NO_COLOR']);

/**
 * Legacy scp (`scp -O`, and old clients) runs `scp -t PATH` (the agent uploads: sink) or
 * `scp -f PATH` (the agent downloads: source) on the target. Only that exact shape is a file
 * transfer; anything else (extra commands, `;`) is a command line like any other.
 */
export type ScpExec = { direction: 'upload' | 'download'; path: string; recursive: boolean };

export function classifyScp(command: string): ScpExec | undefined {
  const words = command.trim().split(/\s+/);
  if (words[0] !== 'scp') return undefined;
  let direction: ScpExec['direction'] | undefined;
  let recursive = false;
  let i = 1;
  for (; i < words.length; i++) {
    const w = words[i] ?? '';
    if (w === '--') { i++; break; }
    if (!/^-[a-zA-Z]+$/.test(w)) break;
    for (const flag of w.slice(1)) {
      if (flag === 't') direction = 'upload';
      else if (flag === 'f') direction = 'download';
      else if (flag === 'r') recursive = true;
      else if (flag !== 'v' && flag !== 'p' && flag !== 'd') return undefined;
    }
  }
  const rest = words.slice(i);
  // One path, no shell syntax in it: anything else goes through the command parser instead.
  if (!direction || rest.length !== 1 || /[;&|`$()<>\\'"*?{}\n]/.test(rest[0] ?? '')) return undefined;
  return { direction, path: rest[0] ?? '', recursive };
}
