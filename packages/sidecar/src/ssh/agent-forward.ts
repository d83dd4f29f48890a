// Agent forwarding relayed through the sidecar: when policy allows `agent-forward`, the target's
// requests to the forwarded agent (auth-agent@openssh.com channels) travel back to the agent's own
// ssh-agent over its connection to the sidecar. The sidecar never signs anything with those keys.
import type { Duplex } from 'node:stream';
// ssh2 is CommonJS: its named exports come through the default export.
import ssh2 from 'ssh2';
import type { Connection, ServerChannel } from 'ssh2';
import type { Decision } from '@chaperone/core/decision';

/**
 * Asks the agent's client to open an auth-agent@openssh.com channel (OpenSSH PROTOCOL §2.1 of
 * the agent forwarding draft): the client connects it to its SSH_AUTH_SOCK. ssh2's server has
 * the message (Protocol.openssh_authAgent) but no public method, so the channel is opened as its
 * own openChannel() does for forwarded-tcpip.
 */
export function openAgentChannel(conn: Connection): Promise<ServerChannel> {
  return new Promise((resolve, reject) => {
    const c = conn as unknown as {
      _chanMgr: { add(cb: unknown): number };
      _protocol: { openssh_authAgent(chan: number, window: number, packet: number): void };
    };
    const opened = (err: Error | undefined, stream: ServerChannel) => (err ? reject(err) : resolve(stream));
    (opened as unknown as { type: string }).type = 'auth-agent@openssh.com';
    const local = c._chanMgr.add(opened);
    if (local === -1) return reject(new Error('no free channels'));
    // ssh2's own defaults for channels it opens (Channel.js MAX_WINDOW, PACKET_SIZE).
    c._protocol.openssh_authAgent(local, 2 * 1024 * 1024, 32 * 1024);
  });
}

/**
 * The agent the sidecar's client to the target offers for forwarding: getStream() is the only
 * method used (authentication to the target uses the Connection's credential alone: upstream.ts
 * names its auth methods). Each use is checked against the policy in force then, and observed.
 */
export class RelayedAgent extends ssh2.BaseAgent {
  constructor(
    private readonly open: () => Promise<Duplex>,
    private readonly decide: () => Decision,
    private readonly used: (decision: Decision) => void,
  ) {
    super();
  }

  override getIdentities(cb: (err: Error | undefined, keys?: Buffer[]) => void): void {
    cb(new Error('the forwarded agent is not used to authenticate the sidecar'));
  }

  override sign(_key: unknown, _data: Buffer, options: unknown, cb?: (err: Error | undefined, signature?: Buffer) => void): void {
    const done = typeof options === 'function' ? options as (err: Error | undefined) => void : cb;
    done?.(new Error('the forwarded agent is not used to authenticate the sidecar'));
  }

  override getStream(cb: (err: Error | undefined, stream?: Duplex) => void): void {
    const decision = this.decide();
    this.used(decision);
    // A policy update since the request may have turned forwarding off: checked on every use
    // (an `approve` rule was approved when the agent asked for forwarding).
    if (decision.action === 'deny') return cb(new Error('agent forwarding is no longer allowed'));
    this.open().then((stream) => cb(undefined, stream), (err: Error) => cb(err));
  }
}
