// The table of subcommands, and the help text built from it.
import type { Command } from './command.js';
import { controlPlane } from './control-plane.js';
import { demo } from './demo.js';
import { dev } from './dev.js';
import { policyCheck } from './policy-check.js';
import { sessionsList, sessionsShow } from './sessions.js';
import { sidecar } from './sidecar.js';
import { webhook } from './webhook.js';

export const COMMANDS: Readonly<Record<string, Command>> = {
  'control-plane': controlPlane,
  sidecar,
  webhook,
  dev,
  demo,
  'policy check': policyCheck,
  'sessions list': sessionsList,
  'sessions show': sessionsShow,
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `chaperone — a privileged-access gateway for AI agents\n\nusage: chaperone COMMAND [options]\n\n${lines.join('\n')}\n\nRun \`chaperone COMMAND --help\` for a command's options.\n`;
}
