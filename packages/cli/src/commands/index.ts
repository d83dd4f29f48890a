// The table of subcommands, and the help text built from it. Commands load on use, so the
// sidecar does not carry the webhook's or the control plane's libraries in its memory.
import type { Command } from './command.js';

export interface CommandEntry {
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  'control-plane': { summary: 'run the control plane', load: async () => (await import('./control-plane.js')).controlPlane },
  sidecar: { summary: 'run the sidecar: exchange the pod token, serve granted connections on localhost', load: async () => (await import('./sidecar.js')).sidecar },
  webhook: { summary: 'run the admission webhook that injects the sidecar into opted-in pods', load: async () => (await import('./webhook.js')).webhook },
  dev: { summary: 'run the control plane, a seeded demo PostgreSQL and a sidecar locally', load: async () => (await import('./dev.js')).dev },
  demo: { summary: 'run a scripted tour on the local stack', load: async () => (await import('./demo.js')).demo },
  'policy check': { summary: 'validate policy documents; explain what an identity may do on a connection', load: async () => (await import('./policy-check.js')).policyCheck },
  'sessions list': { summary: 'list recorded sessions, newest first', load: async () => (await import('./sessions.js')).sessionsList },
  'sessions show': { summary: 'show one session and its records', load: async () => (await import('./sessions.js')).sessionsShow },
  'sessions replay': { summary: 'play a recorded terminal here (--cast: print the asciicast; --web: a link to the replay page)', load: async () => (await import('./sessions-replay.js')).sessionsReplay },
  'approvals list': { summary: 'list just-in-time approvals, newest first', load: async () => (await import('./approvals.js')).approvalsList },
  'approvals approve': { summary: 'approve a pending request (OIDC token or the dev stack\'s admin token)', load: async () => (await import('./approvals.js')).approvalsApprove },
  'approvals deny': { summary: 'deny a pending request, with a reason', load: async () => (await import('./approvals.js')).approvalsDeny },
  'approvals watch': { summary: 'follow new approval requests live, one line each', load: async () => (await import('./approvals.js')).approvalsWatch },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `chaperone — a privileged-access gateway for AI agents\n\nusage: chaperone COMMAND [options]\n\n${lines.join('\n')}\n\nRun \`chaperone COMMAND --help\` for a command's options.\n`;
}
