// Session records → asciicast v2 (one file per recorded terminal), and the parser that reads
// such a file back for playback. Spec: https://docs.asciinema.org/manual/asciicast/v2/
import type { SessionRecord, TerminalStartEvent } from './types.js';

export type AsciicastCode = 'o' | 'i' | 'r';
/** `[seconds since start, code, data]`; `r` data is `COLSxROWS`. */
export type AsciicastEvent = [number, AsciicastCode, string];

export interface AsciicastHeader {
  version: 2;
  width: number;
  height: number;
  /** Unix seconds of the terminal's start. */
  timestamp?: number;
  /** Playback compresses pauses longer than this (seconds). */
  idle_time_limit?: number;
  command?: string;
  title?: string;
  env?: Record<string, string>;
}

export interface Asciicast {
  header: AsciicastHeader;
  events: AsciicastEvent[];
}

/** One recorded terminal of a session, as listed to people choosing what to replay. */
export interface TerminalInfo {
  channel: number;
  width: number;
  height: number;
  command?: string;
  startedAt: string;
  events: number;
}

export type CastResult =
  | { ok: true; channel: number; cast: Asciicast }
  | { ok: false; code: 'REPLAY_ERR_NO_TERMINAL'; message: string; terminals: TerminalInfo[] };

interface Terminal {
  start: TerminalStartEvent;
  time: string;
  events: AsciicastEvent[];
}

/**
 * The terminals of a session in the order they opened. An SSH channel number can be reused
 * after its channel closed, so terminal events belong to the latest start on their channel.
 */
function collectTerminals(records: readonly SessionRecord[]): Terminal[] {
  const all: Terminal[] = [];
  const open = new Map<number, Terminal>();
  for (const r of [...records].sort((a, b) => a.seq - b.seq)) {
    const e = r.event;
    if (e.type === 'terminal.start') {
      const t: Terminal = { start: e, time: r.time, events: [] };
      all.push(t);
      open.set(e.channel, t);
    } else if (e.type === 'terminal') {
      const t = open.get(e.channel);
      if (!t) continue;
      for (const ev of e.events) if (isEvent(ev)) t.events.push([ev[0], ev[1], ev[2]]);
    }
  }
  return all;
}

export function listTerminals(records: readonly SessionRecord[]): TerminalInfo[] {
  return collectTerminals(records).map((t) => ({
    channel: t.start.channel, width: t.start.width, height: t.start.height,
    ...(t.start.command !== undefined ? { command: t.start.command } : {}),
    startedAt: t.time, events: t.events.length,
  }));
}

/** The asciicast of one terminal: the given channel's first terminal, or the session's first terminal. */
export function buildAsciicast(records: readonly SessionRecord[], channel?: number): CastResult {
  const terminals = collectTerminals(records);
  const t = channel === undefined ? terminals[0] : terminals.find((x) => x.start.channel === channel);
  if (!t) {
    const list = terminals.map((x) => x.start.channel).join(', ');
    const message = terminals.length === 0
      ? 'the session recorded no terminal (only interactive SSH shells and exec with a PTY are recorded as terminals)'
      : `the session has no terminal on channel ${channel}; its terminals are on channel ${list}`;
    return { ok: false, code: 'REPLAY_ERR_NO_TERMINAL', message, terminals: listTerminals(records) };
  }
  const startedMs = Date.parse(t.time);
  const header: AsciicastHeader = {
    version: 2,
    width: t.start.width,
    height: t.start.height,
    ...(Number.isFinite(startedMs) ? { timestamp: Math.floor(startedMs / 1000) } : {}),
    ...(t.start.command !== undefined ? { command: t.start.command } : {}),
    ...(t.start.env && Object.keys(t.start.env).length > 0 ? { env: t.start.env } : {}),
  };
  // Players expect time never to go backwards; a batch flushed out of order must not break them.
  let last = 0;
  const events = t.events.map(([time, code, data]): AsciicastEvent => {
    last = Math.max(last, time);
    return [last, code, data];
  });
  return { ok: true, channel: t.start.channel, cast: { header, events } };
}

/** The asciicast v2 file: the header line, then one JSON array per event (newline-delimited). */
export function formatAsciicast(cast: Asciicast): string {
  return `${[cast.header, ...cast.events].map((x) => JSON.stringify(x)).join('\n')}\n`;
}

export type ParseResult = { ok: true; cast: Asciicast } | { ok: false; error: string };

/** Reads an asciicast v2 file; a malformed line is an error value naming the line. */
export function parseAsciicast(text: string): ParseResult {
  const lines = text.split('\n');
  let header: AsciicastHeader | undefined;
  const events: AsciicastEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return { ok: false, error: `line ${i + 1}: not JSON` };
    }
    if (!header) {
      if (!isHeader(value)) return { ok: false, error: 'line 1: not an asciicast v2 header (version 2, width, height)' };
      header = value;
    } else {
      if (!isEvent(value)) return { ok: false, error: `line ${i + 1}: not an event [time, "o"|"i"|"r", data]` };
      events.push(value);
    }
  }
  if (!header) return { ok: false, error: 'empty file' };
  return { ok: true, cast: { header, events } };
}

function isHeader(v: unknown): v is AsciicastHeader {
  if (typeof v !== 'object' || v === null) return false;
  const h = v as Record<string, unknown>;
  return h.version === 2 && Number.isInteger(h.width) && Number.isInteger(h.height);
}

function isEvent(v: unknown): v is AsciicastEvent {
  return Array.isArray(v) && v.length === 3 && typeof v[0] === 'number' && Number.isFinite(v[0]) && v[0] >= 0
    && (v[1] === 'o' || v[1] === 'i' || v[1] === 'r') && typeof v[2] === 'string';
}

/** Parses `r` data (`COLSxROWS`). */
export function parseResize(data: string): { cols: number; rows: number } | undefined {
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(data);
  return m ? { cols: Number(m[1]), rows: Number(m[2]) } : undefined;
}

export interface PlaybackStep {
  /** Seconds to wait before writing, after speed and idle limit. */
  delay: number;
  data: string;
}

/**
 * The output events as waits and writes: pauses longer than `maxIdle` are cut to it (as
 * asciinema's idle_time_limit), then everything is divided by `speed`.
 */
export function playbackSteps(events: readonly AsciicastEvent[], opts: { speed: number; maxIdle?: number }): PlaybackStep[] {
  const steps: PlaybackStep[] = [];
  let prev = 0;
  for (const [time, code, data] of events) {
    if (code !== 'o') continue;
    let gap = Math.max(0, time - prev);
    prev = time;
    if (opts.maxIdle !== undefined) gap = Math.min(gap, opts.maxIdle);
    steps.push({ delay: gap / opts.speed, data });
  }
  return steps;
}
