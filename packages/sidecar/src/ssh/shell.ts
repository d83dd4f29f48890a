// An interactive shell: decideOperation('shell'), then the target's shell with the agent's PTY,
// recorded as asciicast; each line typed is decided before its Enter reaches the target.
import type { ClientChannel, ServerChannel } from 'ssh2';
import type { ChannelSetup, SessionContext } from './context.js';
import { EXIT_REFUSED, EXIT_UPSTREAM, channelOptions } from './context.js';
import { termEnv } from './exec.js';
import { authorize } from './hold.js';
import { LineGuard, mayExpandHistory } from './line-guard.js';
import type { GuardStep } from './line-guard.js';
import { recordedDecision } from './observer.js';
import { bridgeChannels, finish, relay } from './relay.js';
import type { ActiveChannel } from './relay.js';
import { TerminalRecorder } from './terminal-recorder.js';

/** Ctrl-U kills the typed line (readline, and the tty driver's VKILL); the CR then gives a fresh prompt. */
const KILL_LINE = Buffer.from('\x15\r');

export async function runShell(ctx: SessionContext, agent: ServerChannel, setup: ChannelSetup): Promise<ActiveChannel | undefined> {
  const pty = setup.pty;
  const decision = ctx.policy().decideOperation('shell');
  const auth = await authorize(ctx, decision, 'interactive shell');
  if (!auth.run) {
    ctx.log.record({ type: 'channel', kind: 'other', detail: 'shell', decision: recordedDecision(decision) });
    finish(agent, `denied: ${auth.message}`, EXIT_REFUSED, pty !== undefined);
    return undefined;
  }
  const up = await ctx.upstream();
  if (!up.ok) {
    finish(agent, up.message, EXIT_UPSTREAM, pty !== undefined);
    return undefined;
  }
  let remote: ClientChannel;
  try {
    const options = await channelOptions(setup);
    remote = await new Promise<ClientChannel>((resolve, reject) => {
      const window = pty ? { rows: pty.rows, cols: pty.cols, height: pty.height, width: pty.width, term: pty.term, modes: pty.modes } : false;
      up.client.shell(window, options, (err, ch) => (err ? reject(err) : resolve(ch)));
    });
  } catch (err) {
    finish(agent, `the target refused a shell: ${(err as Error).message}`, EXIT_UPSTREAM, pty !== undefined);
    return undefined;
  }
  const term = pty
    ? new TerminalRecorder({ channel: setup.channel, width: pty.cols, height: pty.rows, env: termEnv(setup), record: (e) => ctx.log.record(e) })
    : undefined;
  const guard = new LineGuard();
  // Input is handled in order, one chunk at a time: a held line holds everything typed after it.
  let queue = Promise.resolve();
  agent.on('data', (chunk: Buffer) => {
    ctx.log.bytes('in', chunk.length);
    term?.input(chunk);
    const steps = guard.feed(chunk);
    queue = queue.then(() => carryOut(steps)).catch((err: unknown) => ctx.logger.warn({ err }, 'shell input failed'));
  });
  // Without a PTY nothing is echoed, so a line is held whole and sent only once allowed.
  let held: Buffer[] = [];
  const carryOut = async (steps: GuardStep[]): Promise<void> => {
    for (const step of steps) {
      if (step.type === 'pass') {
        if (pty) remote.write(step.data);
        else held.push(step.data);
        continue;
      }
      const line = step.line.trim();
      if (line === '') {
        send(step.submit);
        continue;
      }
      const started = performance.now();
      const uncheckable = step.uncertain ?? (pty && mayExpandHistory(line) ? 'history expansion' : undefined);
      const { programs, ...d } = uncheckable
        ? { action: 'deny' as const, message: `the line uses ${uncheckable}, which chaperone cannot follow; type the command plainly`, policy: '', rule: 'uncheckable-line', programs: [] as string[] }
        : ctx.policy().decideCommand(line, 'shell');
      ctx.log.command(d);
      const verdict = await authorize(ctx, d, line);
      ctx.log.record({
        type: 'command', command: line, programs, decision: recordedDecision(d), channel: setup.channel, durationMs: Math.round(performance.now() - started),
        ...(verdict.approval ? { approval: verdict.approval } : {}),
      });
      if (verdict.run) {
        send(step.submit);
      } else {
        held = [];
        if (pty) remote.write(KILL_LINE);
        const message = `\r\nchaperone: denied: ${verdict.message}\r\n`;
        if (pty) agent.write(message);
        else agent.stderr.write(`chaperone: denied: ${verdict.message}\n`);
        term?.output(Buffer.from(message));
      }
    }
  };
  const send = (submit: Buffer) => {
    if (!pty) { held.push(submit); remote.write(Buffer.concat(held)); held = []; } else remote.write(submit);
  };
  relay(remote, agent, (d) => { ctx.log.bytes('out', d.length); term?.output(d); });
  relay(remote.stderr, agent.stderr, (d) => { ctx.log.bytes('out', d.length); term?.output(d); });
  agent.on('end', () => { void queue.then(() => remote.end()); });
  return bridgeChannels(agent, remote, term);
}
