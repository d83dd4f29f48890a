// An exec request: decide the command line, then refuse it (one line on stderr, exit 126) or run
// it on the target, passing stdin, stdout, stderr, window changes, signals and the exit through.
import type { ClientChannel, ServerChannel } from 'ssh2';
import type { CommandEvent } from '@chaperone/core/records/types';
import type { ChannelSetup, SessionContext } from './context.js';
import { EXIT_REFUSED, EXIT_UPSTREAM, channelOptions } from './context.js';
import { authorize } from './hold.js';
import { recordedDecision } from './observer.js';
import { classifyScp } from './policy.js';
import { bridgeChannels, finish, relay } from './relay.js';
import type { ActiveChannel } from './relay.js';
import { ScpRecorder } from './scp-recorder.js';
import { TerminalRecorder } from './terminal-recorder.js';

export async function runExec(ctx: SessionContext, agent: ServerChannel, command: string, setup: ChannelSetup): Promise<ActiveChannel | undefined> {
  const started = performance.now();
  const policy = ctx.policy();
  const scp = classifyScp(command);
  const decided = scp
    ? { ...policy.decideOperation(scp.direction === 'upload' ? 'file-write' : 'file-read'), programs: ['scp'] }
    : policy.decideCommand(command, 'exec');
  const { programs, ...decision } = decided;
  ctx.log.command(decision);
  const base: CommandEvent = { type: 'command', command, programs, decision: recordedDecision(decision), channel: setup.channel };
  const pty = setup.pty !== undefined;
  const auth = await authorize(ctx, decision, command);
  const approval = auth.approval ? { approval: auth.approval } : {};
  if (!auth.run) {
    ctx.log.record({ ...base, exitStatus: EXIT_REFUSED, durationMs: ms(started), ...approval });
    finish(agent, `denied: ${auth.message}`, EXIT_REFUSED, pty);
    return undefined;
  }
  const up = await ctx.upstream();
  if (!up.ok) {
    ctx.log.record({ ...base, exitStatus: EXIT_UPSTREAM, durationMs: ms(started), ...approval });
    finish(agent, up.message, EXIT_UPSTREAM, pty);
    return undefined;
  }
  let remote: ClientChannel;
  try {
    const options = { ...await channelOptions(setup), ...(setup.pty ? { pty: setup.pty } : {}) };
    remote = await new Promise<ClientChannel>((resolve, reject) => {
      up.client.exec(command, options, (err, ch) => (err ? reject(err) : resolve(ch)));
    });
  } catch (err) {
    ctx.log.record({ ...base, exitStatus: EXIT_UPSTREAM, durationMs: ms(started), ...approval });
    finish(agent, `the target refused to run the command: ${(err as Error).message}`, EXIT_UPSTREAM, pty);
    return undefined;
  }
  const term = setup.pty
    ? new TerminalRecorder({ channel: setup.channel, width: setup.pty.cols, height: setup.pty.rows, env: termEnv(setup), command, record: (e) => ctx.log.record(e) })
    : undefined;
  const transfers = scp
    ? new ScpRecorder(scp.path, scp.direction === 'download', (f) => ctx.log.record({ type: 'file', protocol: 'scp', direction: scp.direction, ...f, decision: recordedDecision(decision) }))
    : undefined;
  relay(agent, remote, (d) => {
    ctx.log.bytes('in', d.length);
    term?.input(d);
    if (scp?.direction === 'upload') transfers?.feed(d);
  });
  relay(remote, agent, (d) => {
    ctx.log.bytes('out', d.length);
    term?.output(d);
    if (scp?.direction === 'download') transfers?.feed(d);
  });
  relay(remote.stderr, agent.stderr, (d) => {
    ctx.log.bytes('out', d.length);
    term?.output(d);
  });
  agent.on('end', () => remote.end());
  return bridgeChannels(agent, remote, term, (exit) => {
    ctx.log.record({
      ...base, durationMs: ms(started), ...approval,
      ...(exit && 'code' in exit ? { exitStatus: exit.code } : {}), ...(exit && 'signal' in exit ? { signal: exit.signal } : {}),
    });
  });
}

export function termEnv(setup: ChannelSetup): Record<string, string> {
  return setup.pty?.term ? { TERM: setup.pty.term } : {};
}

function ms(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}
