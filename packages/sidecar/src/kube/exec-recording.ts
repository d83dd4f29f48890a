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
  private early: TermInput[] = [];
  private earlyTimer: NodeJS.Timeout | undefined;
  private outcome: ExecOutcome | undefined;
  private readonly errorText: Buffer[] = [];

  constructor(private readonly o: ExecRecordingOptions) {}

  /** The subprotocol both sides agreed on: how messages are framed. */
  opened(protocol: string): void {
    this.protocol = protocol;
  }

  /** A WebSocket message. */
  message(fromAgent: boolean, data: Buffer, isBinary: boolean): void {
    const m = decodeChannelMessage(this.protocol, data, isBinary);
    if (m.ok) this.stream(fromAgent, m.channel, m.data);
  }

  /** Bytes of one stream (channel numbers as on WebSocket; spdy-tap.ts maps SPDY's stream types to them). */
  stream(fromAgent: boolean, channel: number, data: Buffer): void {
    if (fromAgent) {
      if (channel === CHANNEL.stdin) this.add({ code: 'i', data: Buffer.from(data) });
      else if (channel === CHANNEL.resize) {
        const size = parseResize(data);
        if (size) this.add({ code: 'r', ...size });
      }
      return;
    }
    if (channel === CHANNEL.stdout || channel === CHANNEL.stderr) this.add({ code: 'o', data: Buffer.from(data) });
    // The error channel may come in pieces: its whole text is read when the stream ends.
    else if (channel === CHANNEL.error) this.errorText.push(Buffer.from(data));
  }

  /** What the sidecar itself told the agent (a denied line): output on the agent's screen. */
  told(data: Buffer): void {
    this.add({ code: 'o', data });
  }

  /** The stream ended: the terminal's last events, then how the command ended. */
  ended(): ExecOutcome | undefined {
    this.start(undefined);
    this.term?.close();
    this.outcome ??= this.errorText.length > 0 ? execOutcome(this.protocol, Buffer.concat(this.errorText)) : undefined;
    return this.outcome;
  }

  private add(e: TermInput): void {
    if (!this.o.tty) return;
    if (this.term) return apply(this.term, e);
    // The first resize sizes the terminal (kubectl sends one at once, but the container's first
    // output may overtake it): events wait for it, briefly.
    this.early.push(e);
    if (e.code === 'r') return this.start(e);
    this.earlyTimer ??= setTimeout(() => this.start(undefined), EARLY_WAIT_MS).unref();
  }

  private start(size: { cols: number; rows: number } | undefined): void {
    clearTimeout(this.earlyTimer);
    if (this.term || !this.o.tty) return;
    this.term = new TerminalRecorder({
      channel: this.o.channel, width: size?.cols ?? 80, height: size?.rows ?? 24,
      command: this.o.command, record: this.o.record,
    });
    for (const e of this.early) apply(this.term, e);
    this.early = [];
  }
}

type TermInput = { code: 'o' | 'i'; data: Buffer } | { code: 'r'; cols: number; rows: number };

/** How long output and input wait for the first resize before the terminal starts at 80x24. */
const EARLY_WAIT_MS = 250;

function apply(term: TerminalRecorder, e: TermInput): void {
  if (e.code === 'r') term.resize(e.cols, e.rows);
  else if (e.code === 'o') term.output(e.data);
  else term.input(e.data);
}
