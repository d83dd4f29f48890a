// The floor for any proxy written for Node: a byte relay that does nothing but copy, with the
// sidecar's own I/O set-up (net's `onread` into reused buffers, TCP_NODELAY, one write per read).
// `make bench` runs it beside PgBouncer so the sidecar's numbers can be read against what Node
// itself costs per hop on the same machine in the same run.
// Usage (a child process of the benchmark): node node-relay.js LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT
import { connect, createServer, Socket } from 'node:net';
import type { SocketConstructorOpts } from 'node:net';

const READ_BUFFER_SIZE = 64 * 1024;

/** Moves an accepted socket's handle to one that reads into `buffer` (as socket-reader.ts does). */
function withOnread(accepted: Socket, buffer: Buffer, onChunk: (chunk: Buffer) => void): Socket {
  const carrier = accepted as unknown as { _handle: unknown };
  const handle = carrier._handle;
  carrier._handle = null;
  accepted.removeAllListeners();
  accepted.on('error', () => undefined);
  accepted.destroy();
  const options = { handle, readable: true, writable: true, onread: { buffer, callback: (n: number, b: Buffer) => { onChunk(b.subarray(0, n)); } } };
  return new Socket(options as SocketConstructorOpts);
}

function main(): void {
  const [listenPort, upstreamHost, upstreamPort] = process.argv.slice(2);
  if (!listenPort || !upstreamHost || !upstreamPort) {
    process.stderr.write('usage: node-relay LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT\n');
    process.exitCode = 2;
    return;
  }
  const server = createServer({ noDelay: true, pauseOnConnect: true }, (accepted) => {
    // Copies, not views: a write the kernel does not take at once keeps its bytes.
    let upstream: Socket | null = null;
    const early: Buffer[] = [];
    const client = withOnread(accepted, Buffer.allocUnsafeSlow(READ_BUFFER_SIZE), (chunk) => {
      if (upstream) upstream.write(Buffer.from(chunk)); else early.push(Buffer.from(chunk));
    });
    client.setNoDelay(true);
    const up = connect({
      host: upstreamHost, port: Number(upstreamPort), noDelay: true,
      onread: { buffer: Buffer.allocUnsafeSlow(READ_BUFFER_SIZE), callback: (n: number, b: Buffer) => { client.write(Buffer.from(b.subarray(0, n))); return true; } },
    }, () => { upstream = up; for (const c of early.splice(0)) up.write(c); });
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
    client.on('error', () => undefined);
    up.on('error', () => undefined);
  });
  server.listen(Number(listenPort), '127.0.0.1', () => process.stderr.write(`node relay: listening on ${listenPort}\n`));
}

main();
