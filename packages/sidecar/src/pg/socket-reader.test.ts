// SocketReader on real loopback sockets: accepted sockets move to onread, relayed views stay intact
// when writes queue up (detach), the server still closes, and a TLS socket keeps 'data' events.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SocketReader } from './socket-reader.js';

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('SocketReader', () => {
  it('relays 16 MiB through a reused read buffer unchanged, detaching it whenever a write queues', async () => {
    // sink: counts and hashes what the relay forwards, reading slowly at first so writes queue.
    const sinkHash = createHash('sha256');
    let sinkBytes = 0;
    const sinkDone = new Promise<void>((resolve) => {
      const sink = createServer((s) => {
        s.pause();
        setTimeout(() => s.resume(), 200);
        s.on('data', (d: Buffer) => { sinkHash.update(d); sinkBytes += d.length; });
        s.on('end', () => { sink.close(); resolve(); });
      });
      void listen(sink).then((port) => { sinkPort = port; sinkReady(); });
    });
    let sinkPort = 0;
    let sinkReady!: () => void;
    await new Promise<void>((r) => { sinkReady = r; });

    let reused: boolean | undefined;
    const relay = createServer({ pauseOnConnect: true }, (agent: Socket) => {
      const out = connect(sinkPort, '127.0.0.1');
      const reader: SocketReader = new SocketReader(agent, (chunk) => {
        // No pause on purpose: queued writes keep referencing read buffers, so only detach() saves them.
        out.write(chunk);
        if (out.writableLength > 0) reader.detach();
      });
      reused = reader.reused;
      reader.socket.on('end', () => out.end());
    });
    const relayPort = await listen(relay);

    const data = randomBytes(16 * 1024 * 1024);
    const client = connect(relayPort, '127.0.0.1');
    await once(client, 'connect');
    for (let i = 0; i < data.length; i += 100_000) client.write(data.subarray(i, i + 100_000));
    client.end();
    await sinkDone;
    await new Promise<void>((resolve) => relay.close(() => resolve()));

    assert.equal(reused, true);
    assert.equal(sinkBytes, data.length);
    assert.equal(sinkHash.digest('hex'), createHash('sha256').update(data).digest('hex'));
  });

  it('keeps data events for a socket it cannot move (TLS)', () => {
    const tls = new TLSSocket(connect({ port: 9, host: '127.0.0.1' }));
    tls.on('error', () => undefined);
    const reader = new SocketReader(tls, () => undefined);
    assert.equal(reader.reused, false);
    assert.equal(reader.socket, tls);
    assert.equal(tls.listenerCount('data'), 1);
    tls.destroy();
  });
});
