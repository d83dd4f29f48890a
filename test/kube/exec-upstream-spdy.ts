// The exec stand-in's SPDY/3.1 side (kubectl with KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false): the
// kubelet's remotecommand over SPDY, v4.channel.k8s.io — the client opens one stream per
// streamType (error, stdin, stdout, stderr, resize) and waits for each SYN_REPLY; the command
// runs once they are there; its output goes out as data frames, its exit Status on the error
// stream, then every stream is finished. Only what kubectl needs; see exec-upstream.ts for why.
import { spawn } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { constants, createDeflate } from 'node:zlib';
import type { Deflate } from 'node:zlib';
import { exitStatus, streamQuery } from '@chaperone/sidecar/kube/exec-protocol';
import { SPDY_DICTIONARY } from '@chaperone/sidecar/kube/spdy-dictionary';
import { SpdyFrameReader, SpdyHeaderReader } from '@chaperone/sidecar/kube/spdy-frames';

const SYN_REPLY = 2;
const PING = 6;
const FLAG_FIN = 0x01;

export function serveSpdyExec(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const offered = req.headersDistinct['x-stream-protocol-version'] ?? [];
  if (!offered.includes('v4.channel.k8s.io')) {
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    return;
  }
  socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n');
  const q = streamQuery(req.url ?? '');
  const wanted = new Set(['error', 'stdout', ...(q.stdin ? ['stdin'] : []), ...(q.tty ? ['resize'] : ['stderr'])]);
  const streams = new Map<string, number>();
  const frames = new SpdyFrameReader();
  const headers = new SpdyHeaderReader();
  const deflate = createDeflate({ dictionary: SPDY_DICTIONARY });
  // Header blocks are compressed in order in one context: replies queue behind each other.
  let replies = Promise.resolve();
  let child: ReturnType<typeof spawn> | undefined;
  const data = (type: string, bytes: Buffer, fin = false) => {
    const id = streams.get(type);
    if (id === undefined || socket.destroyed) return;
    const frame = Buffer.alloc(8);
    frame.writeUInt32BE(id & 0x7fffffff, 0);
    frame[4] = fin ? FLAG_FIN : 0;
    frame.writeUIntBE(bytes.length, 5, 3);
    socket.write(Buffer.concat([frame, bytes]));
  };
  const start = () => {
    const [file, ...args] = q.command;
    if (file === undefined) return;
    const c = spawn(file, args, { stdio: 'pipe' });
    child = c;
    c.stdout.on('data', (b: Buffer) => data('stdout', b));
    c.stderr.on('data', (b: Buffer) => data(q.tty ? 'stdout' : 'stderr', b));
    c.stdin.on('error', () => undefined);
    if (!q.stdin) c.stdin.end();
    c.on('error', () => undefined);
    c.on('close', (code) => {
      data('error', Buffer.from(exitStatus(code ?? 1)));
      for (const type of streams.keys()) if (type !== 'stdin' && type !== 'resize') data(type, Buffer.alloc(0), true);
      setTimeout(() => socket.end(), 100);
    });
  };
  const onBytes = (chunk: Buffer) => {
    for (const frame of frames.feed(chunk)) {
      if (frame.control) {
        if (frame.type === PING) socket.write(Buffer.concat([control(PING, 0, frame.data.length), frame.data]));
        const syn = headers.synStream(frame);
        if (!syn) continue;
        const type = syn.headers.get('streamtype') ?? '';
        streams.set(type, syn.streamId);
        replies = replies.then(async () => {
          const block = await compress(deflate, emptyHeaderBlock());
          const body = Buffer.concat([u32(syn.streamId), block]);
          socket.write(Buffer.concat([control(SYN_REPLY, 0, body.length), body]));
          if (child === undefined && [...wanted].every((t) => streams.has(t))) start();
        });
        continue;
      }
      const stdinId = streams.get('stdin');
      if (frame.streamId === stdinId && child) {
        if (frame.data.length > 0) child.stdin?.write(frame.data);
        if (frame.flags & FLAG_FIN) child.stdin?.end();
      }
    }
  };
  if (head.length > 0) onBytes(head);
  socket.on('data', onBytes);
  socket.on('error', () => undefined);
  socket.on('close', () => { if (child && child.exitCode === null) child.kill('SIGKILL'); deflate.close(); });
}

function control(type: number, flags: number, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(0x8000 | 3, 0);
  b.writeUInt16BE(type, 2);
  b[4] = flags;
  b.writeUIntBE(length, 5, 3);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

function emptyHeaderBlock(): Buffer {
  return u32(0);
}

function compress(deflate: Deflate, block: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const onData = (c: Buffer) => out.push(c);
    deflate.on('data', onData);
    deflate.write(block);
    deflate.flush(constants.Z_SYNC_FLUSH, () => {
      deflate.off('data', onData);
      resolve(Buffer.concat(out));
    });
  });
}
