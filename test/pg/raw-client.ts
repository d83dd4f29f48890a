// A byte-level PostgreSQL client for tests that need to send what no real client would send.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { Framer, decodeBackend } from '@chaperone/sidecar/pg/codec';
import { encodeStartupMessage } from '@chaperone/sidecar/pg/encode';
import type { BackendMessage } from '@chaperone/sidecar/pg/messages';

export class RawClient {
  readonly messages: BackendMessage[] = [];
  closed = false;
  private readonly framer = new Framer({ startup: false });
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.framer.push(chunk, (_t, frame) => {
        const d = decodeBackend(frame);
        this.messages.push(d.ok ? d.msg : { dir: 'B', type: 'Other', code: -1 });
      });
      this.wake();
    });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('error', reject);
      s.once('connect', () => { s.off('error', reject); resolve(new RawClient(s)); });
    });
  }

  /** Opens a connection and completes the startup (the proxy asks for no password). */
  static async ready(port: number, params: Record<string, string> = {}): Promise<RawClient> {
    const c = await RawClient.open(port);
    c.send(encodeStartupMessage({ user: 'agent', database: 'x', ...params }));
    await c.until((m) => m.some((x) => x.type === 'ReadyForQuery'), 'ReadyForQuery after startup');
    return c;
  }

  send(bytes: Buffer | Uint8Array): void { if (!this.socket.destroyed) this.socket.write(bytes); }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  /** Waits until `check` holds over all messages so far, failing after 15 s or on close. */
  async until(check: (m: BackendMessage[]) => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!check(this.messages)) {
      if (this.closed) throw new Error(`connection closed while waiting for ${what}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 100); });
    }
  }

  async waitClosed(): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the proxy to close the connection');
      await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 100); });
    }
  }

  errors(): Record<string, string>[] {
    return this.messages.flatMap((m) => (m.type === 'ErrorResponse' ? [m.fields] : []));
  }

  close(): void { this.socket.destroy(); }
}
