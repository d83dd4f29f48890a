// Records one exec or attach stream as the WebSocket relay sees it: stdin as asciicast `i`,
// stdout and stderr as `o`, resizes (channel 4) as `r` for a terminal (tty=true), and the exit
// status from the error channel's Status for the CommandEvent written when the stream ends.
import type { RecordEvent } from '@chaperone/core/records/types';
import { TerminalRecorder } from '../ssh/terminal-recorder.js';
import { CHANNEL, decodeChannelMessage, execOutcome, parseResize } from './exec-protocol.js';
import type { ExecOutcome } from './exec-protocol.js';

export interface ExecRecordingOptions {
  /** The stream's number in its session: ties terminal records to the CommandEvent. */
  channel: number;
  tty: boolean;
  command: string;
  record: (event: RecordEvent) => void;
}

export class ExecRecording {
  private protocol = '';
  private term: TerminalRecorder | undefined;
  private outcome: ExecOutcome | undefined;
  private readonly errorText: Buffer[] = [];

  constructor(private readonly o: ExecRecordingOptions) {}

  /** The subprotocol both sides agreed on: how messages are framed. */
  opened(protocol: string): void {
    this.protocol = protocol;
  }

  message(fromAgent: boolean, data: Buffer, isBinary: boolean): void {
    const m = decodeChannelMessage(this.protocol, data, isBinary);
    if (!m.ok) return;
    if (fromAgent) {
      if (m.channel === CHANNEL.stdin) this.terminal()?.input(m.data);
      else if (m.channel === CHANNEL.resize) {
        const size = parseResize(m.data);
        if (size) this.terminal(size)?.resize(size.cols, size.rows);
      }
      return;
    }
    if (m.channel === CHANNEL.stdout || m.channel === CHANNEL.stderr) this.terminal()?.output(m.data);
    // The error channel may come in pieces: its whole text is read when the stream ends.
    else if (m.channel === CHANNEL.error) this.errorText.push(Buffer.from(m.data));
  }

  /** What the sidecar itself told the agent (a denied line): output on the agent's screen. */
  told(data: Buffer): void {
    this.terminal()?.output(data);
  }

  /** The stream ended: the terminal's last events, then how the command ended. */
  ended(): ExecOutcome | undefined {
    this.term?.close();
    this.outcome ??= this.errorText.length > 0 ? execOutcome(this.protocol, Buffer.concat(this.errorText)) : undefined;
    return this.outcome;
  }

  // The terminal starts with the first message, sized by it when it is a resize (kubectl sends one first).
  private terminal(size?: { cols: number; rows: number }): TerminalRecorder | undefined {
    if (!this.o.tty) return undefined;
    this.term ??= new TerminalRecorder({
      channel: this.o.channel, width: size?.cols ?? 80, height: size?.rows ?? 24,
      command: this.o.command, record: this.o.record,
    });
    return this.term;
  }
}
