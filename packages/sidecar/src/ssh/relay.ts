// Copies one SSH channel stream into another with backpressure, observing each chunk; passes a
// running command's end from the target's channel to the agent's.
import type { Readable, Writable } from 'node:stream';
import type { ClientChannel, ServerChannel } from 'ssh2';
import type { TerminalRecorder } from './terminal-recorder.js';

/** What the session forwards to a running exec or shell. */
export interface ActiveChannel {
  setWindow(rows: number, cols: number, height: number, width: number): void;
  signal(name: string): void;
}

/** How the target's command ended: its exit status, or the signal that ended it. */
export type RemoteExit = { code: number } | { signal: string; dump: boolean; desc: string };

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

/**
 * Once the target's channel closes: `onClose` (the terminal recording is closed first), then the
 * exit status or signal to the agent, then its EOF. The agent closing closes the target. Window
 * changes go to the terminal recording and the target; signals to the target.
 */
export function bridgeChannels(agent: ServerChannel, remote: ClientChannel, term: TerminalRecorder | undefined, onClose?: (exit: RemoteExit | undefined) => void): ActiveChannel {
  let exit: RemoteExit | undefined;
  remote.on('exit', (code: number | null, signal?: string, dump?: boolean, desc?: string) => {
    exit = code !== null && code !== undefined ? { code } : { signal: (signal ?? 'SIGKILL').replace(/^SIG/, ''), dump: dump ?? false, desc: desc ?? '' };
  });
  remote.on('close', () => {
    term?.close();
    onClose?.(exit);
    if (exit && 'code' in exit) agent.exit(exit.code);
    else if (exit) agent.exit(exit.signal, exit.dump, exit.desc);
    agent.end();
  });
  agent.on('close', () => remote.close());
  return {
    setWindow(rows, cols, height, width) {
      term?.resize(cols, rows);
      remote.setWindow(rows, cols, height, width);
    },
    signal: (name) => remote.signal(name),
  };
}
