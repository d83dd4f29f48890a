// Reading a relayed socket without a Buffer and a Readable-stream round trip per read: net's
// `onread` option reads into one reusable buffer and calls us directly. Chunks handed on are views
// of that buffer, valid only during the callback: whatever must outlive it (a partial frame, a
// write the kernel did not take at once) is copied, or the buffer is given up to it (detach()).
//
// An accepted or already-connected socket cannot be given `onread` after the fact, so the TCP
// handle moves to a new Socket built with it (the documented `handle` option); the old object is
// emptied and destroyed so its server stops counting it. TLS sockets, and anything else the move
// does not fit, keep 'data' events (chunks then own their memory, and detach() does nothing).
import { Socket } from 'node:net';
import type { SocketConstructorOpts } from 'node:net';

/** One read's bytes; a view of the reusable buffer when `reused` is true. */
export type ChunkHandler = (chunk: Buffer) => void;

/** 64 KiB, as libuv's default read size: one read takes whatever the kernel has. */
const READ_BUFFER_SIZE = 64 * 1024;

/** The handle fields the move needs; the names are Node's (net.js), not public API. */
interface HandleCarrier { _handle?: { readStop?: () => number; reading?: boolean } | null }

export class SocketReader {
  private buffer: Buffer | null = null;
  private fresh = false;
  /** The socket to use from now on (a new object when the handle moved). */
  readonly socket: Socket;
  /** True when chunks are views of a buffer the next read overwrites. */
  readonly reused: boolean;

  constructor(socket: Socket, private readonly onChunk: ChunkHandler) {
    const moved = this.move(socket);
    this.socket = moved ?? socket;
    this.reused = moved !== null;
    if (!moved) { socket.on('data', onChunk); socket.resume(); }
  }

  /**
   * Gives the current read buffer to whoever still references a chunk (a queued write): the next
   * read gets a new one. Call it during the chunk callback.
   */
  detach(): void {
    if (this.reused) this.fresh = true;
  }

  private readonly nextBuffer = (): Buffer => {
    if (this.buffer === null || this.fresh) {
      this.buffer = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);
      this.fresh = false;
    }
    return this.buffer;
  };

  private readonly onRead = (nread: number, buf: Buffer): void => {
    this.onChunk(buf.subarray(0, nread));
  };

  private move(old: Socket): Socket | null {
    const carrier = old as unknown as HandleCarrier;
    const handle = carrier._handle;
    // Only a plain, idle TCP socket: nothing buffered either way, not TLS, not closing.
    if (!handle || typeof handle.readStop !== 'function' || 'encrypted' in old || old.destroyed || old.connecting
      || old.readableLength > 0 || old.writableLength > 0 || old.listenerCount('data') > 0) return null;
    if (handle.reading) { handle.readStop(); handle.reading = false; }
    // `handle` and `onread` are both Socket options; @types/node knows only `onread` on net.connect.
    const options = { handle, readable: true, writable: true, onread: { buffer: this.nextBuffer, callback: this.onRead } };
    const socket = new Socket(options as SocketConstructorOpts);
    // The old object must neither close the handle nor keep its server waiting for it.
    carrier._handle = null;
    old.removeAllListeners();
    old.on('error', () => undefined);
    old.destroy();
    return socket;
  }
}
