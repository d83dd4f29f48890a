// Opens the sidecar's own SSH connection to the target with the control plane's credential,
// refusing a target whose host key is not the one the Connection names.
import { createHash } from 'node:crypto';
// ssh2 is CommonJS: its named exports come through the default export.
import ssh2 from 'ssh2';
import type { BaseAgent, Client, ConnectConfig } from 'ssh2';
import type { Credential } from '@chaperone/core/api';
import type { SshTarget } from '@chaperone/core/policy/types';
import { fingerprint, hostKeyMatches, parseHostKey } from './host-key.js';

export type SshCredential = Extract<Credential, { type: 'password' | 'ssh-key' }>;

export type UpstreamResult =
  | { ok: true; client: Client }
  | { ok: false; reason: 'host-key' | 'config' | 'unreachable' | 'auth'; message: string };

/** `agent`: what the target reaches when a channel asks for agent forwarding (agent-forward.ts). */
export function connectUpstream(target: SshTarget, credential: SshCredential, timeoutMs = 15_000, agent?: BaseAgent): Promise<UpstreamResult> {
  const expected = parseHostKey(target.hostKey);
  if (!expected.ok) return Promise.resolve({ ok: false, reason: 'config', message: `the connection's hostKey is unusable: ${expected.error}` });
  const key = expected.key;
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    let presented: Buffer | undefined;
    let settled = false;
    const settle = (r: UpstreamResult) => {
      if (settled) return;
      settled = true;
      if (!r.ok) client.end();
      resolve(r);
    };
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: credential.username || target.user,
      readyTimeout: timeoutMs,
      // Offer only the expected key's algorithms: a target holding several keys presents this one.
      algorithms: { serverHostKey: key.algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
      hostVerifier: (blob: Buffer) => {
        presented = blob;
        return hostKeyMatches(key, blob);
      },
      keepaliveInterval: 30_000,
      // Only the Connection's credential authenticates the sidecar, never a forwarded agent's keys.
      authHandler: [credential.type === 'ssh-key' ? 'publickey' : 'password'],
      ...(agent ? { agent } : {}),
      ...(credential.type === 'ssh-key'
        ? { privateKey: credential.privateKey, ...(credential.passphrase ? { passphrase: credential.passphrase } : {}) }
        : { password: credential.password, tryKeyboard: false }),
    };
    client.once('ready', () => settle({ ok: true, client }));
    client.once('error', (err: Error & { level?: string }) => {
      const sha = (b: Buffer) => createHash('sha256').update(b).digest();
      if (presented && !hostKeyMatches(key, presented)) {
        settle({ ok: false, reason: 'host-key', message: `host key verification failed for ${target.host}:${target.port}: it presented ${fingerprint(presented, sha)}, the connection expects ${fingerprint(key.blob, sha)} (${key.type})` });
      } else if (err.level === 'client-authentication') {
        settle({ ok: false, reason: 'auth', message: `the target ${target.host}:${target.port} refused the connection's credential for ${config.username}` });
      } else if (!presented && /no matching host key/i.test(err.message)) {
        settle({ ok: false, reason: 'host-key', message: `host key verification failed for ${target.host}:${target.port}: it has no ${key.type} host key` });
      } else {
        settle({ ok: false, reason: 'unreachable', message: `cannot reach the target ${target.host}:${target.port}: ${err.message}` });
      }
    });
    client.once('close', () => settle({ ok: false, reason: 'unreachable', message: `the target ${target.host}:${target.port} closed the connection` }));
    try {
      client.connect(config);
      // As on the agent side: SFTP's many small requests and replies are latency-bound.
      client.setNoDelay(true);
    } catch (err) {
      settle({ ok: false, reason: 'config', message: `cannot connect to ${target.host}:${target.port}: ${(err as Error).message}` });
    }
  });
}
