// Copies one SSH channel stream into another with backpressure, observing each chunk.
import type { Readable, Writable } from 'node:stream';

export function relay(from: Readable, to: Writable, observe: (chunk: Buffer) => void): void {
  from.on('data', (chunk: Buffer) => {
    observe(chunk);
    if (!to.writable) return;
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
}

/** Writes a one-line message to the agent's stderr (CRLF on a terminal), exits and closes. */
export function finish(agent: { stderr: Writable; exit(status: number): void; end(): void }, message: string, status: number, pty: boolean): void {
  agent.stderr.write(`chaperone: ${message}${pty ? '\r\n' : '\n'}`);
  agent.exit(status);
  agent.end();
}
