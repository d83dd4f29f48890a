// The SSH listener holds at most maxConnections agent connections: one more is closed before the
// SSH handshake, and a freed slot is usable again. Raw TCP clients: none of them authenticates,
// so the target and the observer are never reached.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { buildSshPolicy } from './policy.js';
import { MAX_AGENT_CONNECTIONS, SshProxy } from './proxy.js';
import type { SshObserver } from './observer.js';

/** The first bytes the listener sends, or 'closed' when it closes the socket without a word. */
function firstWords(port: number, opened: Socket[]): Promise<{ socket: Socket; got: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    opened.push(socket);
    socket.once('data', (d) => resolve({ socket, got: d.toString('latin1') }));
    socket.once('close', () => resolve({ socket, got: 'closed' }));
    socket.once('error', reject);
  });
}

test('agent connections past the limit are closed before the handshake', async () => {
  assert.ok(MAX_AGENT_CONNECTIONS >= 16 && MAX_AGENT_CONNECTIONS <= 1024);
  const neverUsed: SshObserver = { sessionStarted: () => { throw new Error('no session was expected'); } };
  const proxy = new SshProxy({
    listen: { host: '127.0.0.1', port: 0 }, connectionName: 'c',
    target: { host: '127.0.0.1', port: 1, user: 'u', hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl' },
    credential: { type: 'password', username: 'u', password: 'p' },
    policy: buildSshPolicy([], 'c'), observer: neverUsed, maxConnections: 2,
  });
  const { port } = await proxy.start();
  const opened: Socket[] = [];
  try {
    const a = await firstWords(port, opened);
    const b = await firstWords(port, opened);
    assert.match(a.got, /^SSH-2\.0-chaperone/);
    assert.match(b.got, /^SSH-2\.0-chaperone/);
    const c = await firstWords(port, opened);
    assert.equal(c.got, 'closed');
    a.socket.destroy();
    // The listener learns of the close asynchronously: ask again until the slot is free.
    let d = await firstWords(port, opened);
    for (let i = 0; i < 100 && d.got === 'closed'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      d = await firstWords(port, opened);
    }
    assert.match(d.got, /^SSH-2\.0-chaperone/);
  } finally {
    for (const s of opened) s.destroy();
    await proxy.close();
  }
});
