// `chaperone sessions replay ID`: plays a recorded terminal in this terminal (or prints its
// asciicast, or a one-time link to the control plane's replay page).
import { setTimeout as sleep } from 'node:timers/promises';
import { ChaperoneError } from '@chaperone/core/errors';
import { parseAsciicast, playbackSteps, type Asciicast } from '@chaperone/core/records/asciicast';
import { apiPost, resolveTarget, type OperatorTarget } from '../operator-client.js';
import { parse, type Command } from './command.js';

const USAGE = 'chaperone sessions replay ID [--channel N] [--speed X] [--max-idle SECONDS] [--cast | --web] [--control-plane URL]';

export const sessionsReplay: Command = {
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parse(args, {
      channel: { type: 'string' }, speed: { type: 'string' }, 'max-idle': { type: 'string' },
      cast: { type: 'boolean' }, web: { type: 'boolean' }, 'control-plane': { type: 'string' },
    }, USAGE, true);
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new ChaperoneError('CLI_ERR_USAGE', `one session ID, please\nusage: ${USAGE}`);
    if (values.cast && values.web) throw new ChaperoneError('CLI_ERR_USAGE', `--cast and --web exclude each other\nusage: ${USAGE}`);
    const channel = values.channel === undefined ? undefined : numberOption('--channel', values.channel, (n) => Number.isInteger(n) && n >= 0);
    const speed = values.speed === undefined ? 1 : numberOption('--speed', values.speed, (n) => n > 0);
    const maxIdle = values['max-idle'] === undefined ? undefined : numberOption('--max-idle', values['max-idle'], (n) => n >= 0);
    const target = resolveTarget(values['control-plane']);
    const query = channel === undefined ? '' : `?channel=${channel}`;

    if (values.web) {
      const ticket = await apiPost<{ path: string; expiresAt: string }>(target, `/v1/sessions/${encodeURIComponent(id)}/replay-ticket${query}`, undefined);
      process.stdout.write(`${target.url}${ticket.path}\n`);
      process.stderr.write(`open it in a browser before ${ticket.expiresAt}; the link works once\n`);
      return 0;
    }
    const text = await fetchCast(target, `/v1/sessions/${encodeURIComponent(id)}/cast${query}`);
    if (values.cast) {
      process.stdout.write(text);
      return 0;
    }
    const parsed = parseAsciicast(text);
    if (!parsed.ok) throw new ChaperoneError('CLI_ERR_CAST_INVALID', `the control plane sent an unreadable asciicast: ${parsed.error}`);
    return play(parsed.cast, { speed, ...(maxIdle !== undefined ? { maxIdle } : {}) });
  },
};

function numberOption(name: string, value: string, ok: (n: number) => boolean): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !ok(n)) throw new ChaperoneError('CLI_ERR_USAGE', `${name}: invalid value "${value}"\nusage: ${USAGE}`);
  return n;
}

/** The asciicast text: not JSON, so not through apiGet. */
async function fetchCast(target: OperatorTarget, path: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, { headers: target.token ? { authorization: `Bearer ${target.token}` } : {} });
  } catch (err) {
    throw new ChaperoneError('CLI_ERR_UNREACHABLE', `control plane at ${target.url} is unreachable: ${(err as Error).cause ?? (err as Error).message}`);
  }
  const body = await res.text();
  if (!res.ok) {
    let error: { code?: string; message?: string } | undefined;
    try {
      error = (JSON.parse(body) as { error?: { code?: string; message?: string } }).error;
    } catch { /* not the control plane's error shape */ }
    throw new ChaperoneError(error?.code ?? 'CLI_ERR_HTTP', error?.message ?? `${path}: ${res.status} ${res.statusText}`);
  }
  return body;
}

/**
 * Writes the output events with their recorded pauses (over speed, capped at maxIdle). Waits
 * are measured from the start, not chained, so timer lateness does not add up over a long replay.
 */
async function play(cast: Asciicast, opts: { speed: number; maxIdle?: number }): Promise<number> {
  const out = process.stdout;
  const { width, height } = cast.header;
  if (out.isTTY && (out.columns < width || out.rows < height)) {
    process.stderr.write(`note: recorded at ${width}x${height}, this terminal is ${out.columns}x${out.rows}; lines may wrap\n`);
  }
  // Ctrl-C ends the replay at once, even in the middle of a long recorded pause.
  const interrupt = new AbortController();
  let alt = false;
  const stop = () => interrupt.abort();
  process.once('SIGINT', stop);
  try {
    const started = performance.now();
    let due = 0;
    for (const step of playbackSteps(cast.events, opts)) {
      due += step.delay * 1000;
      const wait = started + due - performance.now();
      if (wait > 0) await sleep(wait, undefined, { signal: interrupt.signal }).catch(() => undefined);
      if (interrupt.signal.aborted) break;
      if (!out.write(step.data)) await new Promise((r) => out.once('drain', r));
      alt = altScreenAfter(alt, step.data);
    }
  } finally {
    process.off('SIGINT', stop);
  }
  // Leave the user's terminal as it was: attributes reset, cursor shown, and the main screen
  // back if the recording (or the interruption) left the alternate one on.
  if (out.isTTY) out.write(`\u001b[0m\u001b[?25h${alt ? '\u001b[?1049l' : ''}\r\n`);
  return interrupt.signal.aborted ? 130 : 0;
}

/** Whether the alternate screen is on after `data` (full-screen programs switch with ?1049h/l). */
function altScreenAfter(on: boolean, data: string): boolean {
  const enter = data.lastIndexOf('\u001b[?1049h');
  const leave = data.lastIndexOf('\u001b[?1049l');
  return enter === leave ? on : enter > leave;
}
