// What every channel handler of one agent connection shares: policy, upstream, records, approval.
import type { Logger } from 'pino';
import type { PseudoTtyInfo } from 'ssh2';
import type { HoldContext } from './hold.js';
import type { SshPolicy } from './policy.js';
import type { UpstreamResult } from './upstream.js';

export interface SessionContext extends HoldContext {
  /** The policy in force now (bundle updates apply to the next request). */
  policy(): SshPolicy;
  /** The sidecar's connection to the target, opened once per agent connection. */
  upstream(): Promise<UpstreamResult>;
  logger: Logger;
}

/** What the agent set up on a session channel before exec/shell/subsystem. */
export interface ChannelSetup {
  /** Numbers the session channels of one agent connection, 0 up, for records. */
  channel: number;
  pty: PseudoTtyInfo | undefined;
  /** env requests policy let through. */
  env: Record<string, string>;
  /** Whether agent forwarding was asked for and authorized (held while an approval is pending). */
  agentForward: Promise<boolean> | undefined;
}

/** What exec and shell ask the target for beside the command: env, and agent forwarding once authorized. */
export async function channelOptions(setup: ChannelSetup): Promise<{ env: Record<string, string>; agentForward?: boolean }> {
  // ssh2's exec/shell options take agentForward (its typings leave it out); the target then opens
  // auth-agent@openssh.com channels, which upstream.ts hands to the RelayedAgent.
  return { env: setup.env, ...((await setup.agentForward) === true ? { agentForward: true } : {}) };
}

/** Exit status for a command chaperone refused (POSIX: found but not executable). */
export const EXIT_REFUSED = 126;
/** Exit status when the target cannot be reached or verified (as OpenSSH's own ssh exits). */
export const EXIT_UPSTREAM = 255;
