// Test helper: a sealed SSH session with recorded terminals, as the sidecar's terminal recorder sends it.
import { GENESIS_HASH, sealRecord } from '@chaperone/core/records/chain';
import type { Identity, Protocol, RecordEvent, SessionRecord } from '@chaperone/core/records/types';

export interface RecordedTerminal {
  channel: number;
  width: number;
  height: number;
  command?: string;
  /** Batches of asciicast events, one TerminalEvent record each. */
  batches: [number, 'o' | 'i' | 'r', string][][];
}

export function terminalSession(session: string, identity: Identity, terminals: RecordedTerminal[], opts: { start?: Date; connection?: string; protocol?: Protocol } = {}): SessionRecord[] {
  const events: RecordEvent[] = [{ type: 'session.start', protocol: opts.protocol ?? 'ssh', connection: opts.connection ?? 'bastion', identity, client: { user: 'agent' } }];
  for (const t of terminals) {
    events.push({ type: 'terminal.start', channel: t.channel, width: t.width, height: t.height, env: { TERM: 'xterm-256color' }, ...(t.command !== undefined ? { command: t.command } : {}) });
    for (const batch of t.batches) events.push({ type: 'terminal', channel: t.channel, events: batch });
  }
  events.push({ type: 'session.end', reason: 'client', statements: 0, durationMs: 1000 });
  const start = (opts.start ?? new Date()).getTime();
  let prev = GENESIS_HASH;
  return events.map((e, seq) => {
    const r = sealRecord(session, seq, prev, e, new Date(start + seq));
    prev = r.hash;
    return r;
  });
}

/** What a terminal printed: its `o` events joined, the bytes a replay must write. */
export function recordedOutput(t: RecordedTerminal): string {
  return t.batches.flat().filter((e) => e[1] === 'o').map((e) => e[2]).join('');
}

/** A shell session with colours, UTF-8, a resize and typed input (which replay must not print). */
export const SAMPLE_SHELL: RecordedTerminal = {
  channel: 0, width: 80, height: 24,
  batches: [
    [[0.05, 'o', 'agent@bastion:~$ '], [0.4, 'i', 'echo h\u00e9llo'], [0.41, 'o', 'echo h\u00e9llo'], [0.6, 'i', '\r'], [0.61, 'o', '\r\nh\u00e9llo\r\n']],
    [[0.9, 'r', '100x30'], [1.2, 'o', '\u001b[1;32magent@bastion\u001b[0m:~$ '], [1.5, 'o', 'uptime-marker-7\r\n']],
    [[2.4, 'i', '\u0004'], [2.5, 'o', 'logout\r\n']],
  ],
};
