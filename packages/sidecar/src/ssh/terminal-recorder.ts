// Records one terminal (a PTY channel) as asciicast v2: a TerminalStartEvent header, then
// [seconds, 'o'|'i'|'r', data] events batched into TerminalEvent records every 100 ms or 4 KiB.
import { StringDecoder } from 'node:string_decoder';
import type { RecordEvent, TerminalEvent } from '@chaperone/core/records/types';

export interface TerminalRecorderOptions {
  channel: number;
  width: number;
  height: number;
  env?: Record<string, string>;
  command?: string;
  record: (event: RecordEvent) => void;
  flushMs?: number;
  maxBytes?: number;
  now?: () => number;
}

export class TerminalRecorder {
  private readonly started: number;
  private events: TerminalEvent['events'] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  // Output and input may split a UTF-8 character between chunks; asciicast data is text.
  private readonly out = new StringDecoder('utf8');
  private readonly in = new StringDecoder('utf8');
  private readonly now: () => number;

  constructor(private readonly o: TerminalRecorderOptions) {
    this.now = o.now ?? (() => performance.now());
    this.started = this.now();
    o.record({
      type: 'terminal.start', channel: o.channel, width: o.width, height: o.height,
      ...(o.env && Object.keys(o.env).length > 0 ? { env: o.env } : {}),
      ...(o.command !== undefined ? { command: o.command } : {}),
    });
  }

  output(data: Buffer): void { this.add('o', this.out.write(data)); }
  input(data: Buffer): void { this.add('i', this.in.write(data)); }
  resize(cols: number, rows: number): void { this.add('r', `${cols}x${rows}`); }

  /** Flushes what is left; later calls do nothing. */
  close(): void {
    if (this.closed) return;
    this.add('o', this.out.end());
    this.add('i', this.in.end());
    this.flush();
    this.closed = true;
  }

  private add(code: 'o' | 'i' | 'r', data: string): void {
    if (this.closed || data === '') return;
    const t = Math.round(this.now() - this.started) / 1000;
    const last = this.events[this.events.length - 1];
    // Consecutive same-kind data at the same millisecond is one event, as asciinema writes it.
    if (last && last[1] === code && last[0] === t && code !== 'r') last[2] += data;
    else this.events.push([t, code, data]);
    this.pendingBytes += data.length;
    if (this.pendingBytes >= (this.o.maxBytes ?? 4096)) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.o.flushMs ?? 100).unref();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.events.length === 0) return;
    const events = this.events;
    this.events = [];
    this.pendingBytes = 0;
    this.o.record({ type: 'terminal', channel: this.o.channel, events });
  }
}
