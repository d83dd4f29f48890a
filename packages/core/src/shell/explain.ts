// Explains to people (`chaperone policy check --command`) what a command line runs on an SSH
// connection and why it gets the decision the sidecar would take.
import type { Decision } from '../decision.js';
import type { Identity } from '../records/types.js';
import { policiesForIdentity } from '../policy/subjects.js';
import type { AccessPolicyDoc, PolicyDoc } from '../policy/types.js';
import { analyzeCommandLine, loadShellParser } from './analyze.js';
import type { CommandAnalysis, SimpleCommand } from './analyze.js';
import { compileShellPolicy, decideAnalysis, decideSimpleCommand, matchShellRule } from './policy.js';
import type { CommandOperation, CompiledShellRule, ShellCommandDecision } from './policy.js';

export interface ExplainedCommand {
  command: SimpleCommand;
  /** Every rule that matches this command, in precedence order; the first decides. */
  matches: { policy: string; rule: string; action: CompiledShellRule['action'] }[];
  decision: Decision;
}

export interface CommandExplanation {
  line: string;
  operation: CommandOperation;
  analysis: CommandAnalysis;
  /** The decision for the whole line, exactly as the sidecar would take it. */
  decision: ShellCommandDecision;
  commands: ExplainedCommand[];
  text: string;
}

/** Analyses `line` with the real shell parser and decides it as the sidecar would, with the reasons. */
export async function explainCommand(
  docs: readonly PolicyDoc[], identity: Identity, connection: string, line: string, operation: CommandOperation = 'exec',
): Promise<CommandExplanation> {
  await loadShellParser();
  const policies = docs.filter((d): d is AccessPolicyDoc => d.kind === 'AccessPolicy');
  const applicable = policiesForIdentity(policies, identity).filter((p) => p.spec.connections.includes(connection));
  const compiled = compileShellPolicy(applicable, connection);
  const analysis = analyzeCommandLine(line);
  const decision = decideAnalysis(compiled, analysis, operation);
  const commands: ExplainedCommand[] = analysis.ok
    ? analysis.commands.map((command) => ({
      command,
      matches: compiled.rules.flatMap((r) => (matchShellRule(r, command, operation) ? [{ policy: r.policy, rule: r.rule, action: r.action }] : [])),
      decision: decideSimpleCommand(compiled, command, operation),
    }))
    : [];
  return { line, operation, analysis, decision, commands, text: format(identity, connection, analysis, decision, commands) };
}

function format(identity: Identity, connection: string, a: CommandAnalysis, d: ShellCommandDecision, commands: ExplainedCommand[]): string {
  const lines = [`identity ${identity.namespace}/${identity.serviceAccount} on connection ${connection}`];
  const source = d.policy === '' ? `rule ${d.rule}` : `rule ${d.rule} of policy ${d.policy}`;
  lines.push(`decision: ${d.action} by ${source}${d.action === 'allow' ? '' : `: ${d.message}`}`);
  if (d.action === 'approve') lines.push(`  approvers ${d.approvers.join(', ')}, timeout ${d.timeoutSeconds}s`);
  if (!a.ok) lines.push(`the shell parser could not parse the line: ${a.error}`);
  else if (commands.length === 0) lines.push('the line runs no command');
  commands.forEach((c, i) => {
    const words = [c.command.program, ...c.command.args].map((w) => (/^[\w./:=@%+,-]+$/.test(w) ? w : JSON.stringify(w))).join(' ');
    const notes: string[] = [];
    if (c.command.dynamicProgram) notes.push('program unknown until it runs');
    else if (c.command.dynamic) notes.push(`dynamic argument(s) ${c.command.dynamicArgs.map((n) => n + 1).join(', ')}`);
    lines.push(`command ${i + 1}: ${words}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`);
    if (c.matches.length === 0) lines.push('  no rule matches');
    for (const m of c.matches) lines.push(`  matches ${m.action} ${m.rule}`);
    lines.push(`  → ${c.decision.action} (${c.decision.rule})`);
  });
  return lines.join('\n');
}
