// The floor for any proxy written for Node: a byte relay that does nothing but copy, with the
// sidecar's own I/O set-up (SocketReader: net's `onread` into a reused buffer; TCP_NODELAY; one
// write per read). `make bench` runs it beside PgBouncer so the sidecar's numbers can be read
// against what Node itself costs per hop on the same machine in the same run.
// Usage (a child process of the benchmark): node node-relay.js LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT
import { connect, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { SocketReader } from '@chaperone/sidecar/pg/socket-reader';

function main(): void {
  const [listenPort, upstreamHost, upstreamPort] = process.argv.slice(2);
  if (!listenPort || !upstreamHost || !upstreamPort) {
    process.stderr.write('usage: node-relay LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT\n');
    process.exitCode = 2;
    return;
  }
  const server = createServer({ noDelay: true, pauseOnConnect: true }, (accepted) => {
    // Copies, not views of the read buffers: a write the kernel does not take at once keeps its bytes.
    let upstream: Socket | null = null;
    const early: Buffer[] = [];
    const client = new SocketReader(accepted, (chunk) => {
      if (upstream) upstream.write(Buffer.from(chunk)); else early.push(Buffer.from(chunk));
    }).socket;
    client.setNoDelay(true);
    const connecting = connect({ host: upstreamHost, port: Number(upstreamPort), noDelay: true }, () => {
      const up = new SocketReader(connecting, (chunk) => { client.write(Buffer.from(chunk)); }).socket;
      up.on('close', () => client.destroy());
      up.on('error', () => undefined);
      client.on('close', () => up.destroy());
      upstream = up;
      for (const c of early.splice(0)) up.write(c);
    });
    connecting.on('error', () => client.destroy());
    client.on('close', () => { if (!upstream) connecting.destroy(); });
    client.on('error', () => undefined);
  });
  server.listen(Number(listenPort), '127.0.0.1', () => process.stderr.write(`node relay: listening on ${listenPort}\n`));
}

main();
