// Interactive shells through the sidecar: the real ssh -tt typing into a real login shell,
// recorded as asciicast; lines typed at the prompt are checked, a denied one is killed before
// its Enter reaches the target. Window changes come from an ssh2 client (ssh resizes only on a
// real terminal's SIGWINCH).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import type { CommandEvent, RecordEvent, TerminalEvent, TerminalStartEvent } from '@chaperone/core/records/types';
import { BOX, DENY_MESSAGE, eventually, startStack } from './support.js';
import type { Stack } from './support.js';

let s: Stack;
before(async () => { s = await startStack(); });
after(async () => { await s?.stop(); });

/** The asciicast events of the session whose terminal output includes `marker`. */
async function terminalOf(marker: string): Promise<{ start: TerminalStartEvent; events: TerminalEvent['events']; all: RecordEvent[] }> {
  return eventually(`a terminal recording showing ${marker}`, async () => {
    for (const all of await s.sessions(BOX)) {
      const events = all.filter((e): e is TerminalEvent => e.type === 'terminal').flatMap((e) => e.events);
      const start = all.find((e): e is TerminalStartEvent => e.type === 'terminal.start');
      if (start && events.some(([, code, data]) => code === 'o' && data.includes(marker))) return { start, events, all };
    }
    return undefined;
  });
}

test('ssh -tt: typed lines run or are refused at the prompt, and the terminal is recorded', async () => {
  const victim = join(s.sshd.dir, 'shell-victim');
  await writeFile(victim, 'keep me');
  const script = `echo one-$((40+2))\nrm -f ${victim}\nsudo !!\necho three-$((1+2))\nexit\n`;
  const r = await s.ssh(BOX, ['-tt'], { input: script });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /one-42/);
  assert.match(r.stdout, /three-3/);
  assert.match(r.stdout, new RegExp(`chaperone: denied: ${DENY_MESSAGE}`));
  assert.ok(existsSync(victim), 'the denied line ran');

  const { start, events, all } = await terminalOf('three-3');
  assert.equal(start.channel, 0);
  assert.ok(events.every(([t]) => typeof t === 'number' && t >= 0));
  assert.ok(events.some(([, code, data]) => code === 'i' && data.includes('echo one-$((40+2))')));
  const commands = all.filter((e): e is CommandEvent => e.type === 'command');
  assert.deepEqual(commands.map((c) => [c.command, c.decision.action]), [
    ['echo one-$((40+2))', 'allow'], [`rm -f ${victim}`, 'deny'], ['sudo !!', 'deny'], ['echo three-$((1+2))', 'allow'], ['exit', 'allow'],
  ]);
  assert.equal(commands[2]?.decision.rule, 'uncheckable-line');
});

test('a PTY shell from an ssh2 client: size, window changes as r events, output in order', async () => {
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => client.once('ready', resolve).once('error', reject).connect({ host: '127.0.0.1', port: s.port(BOX), username: 'agent' }));
  try {
    const stream = await new Promise<ClientChannel>((resolve, reject) =>
      client.shell({ rows: 30, cols: 100, term: 'xterm-256color' }, (err, ch) => (err ? reject(err) : resolve(ch))));
    let out = '';
    stream.on('data', (d: Buffer) => { out += d.toString(); });
    stream.write('stty size; echo size-done\n');
    await eventually('stty size', async () => (/size-done\r?\n/.test(out.split('stty size; echo size-done').pop() ?? '') ? true : undefined));
    stream.setWindow(40, 120, 0, 0);
    stream.write('stty size; echo resized-done\n');
    await eventually('the resized size', async () => (/40 120/.test(out) ? true : undefined));
    assert.match(out, /30 100/);
    stream.end('exit\n');
    await new Promise((resolve) => stream.once('close', resolve));
  } finally {
    client.end();
  }
  const { start, events } = await terminalOf('resized-done');
  assert.deepEqual({ width: start.width, height: start.height, env: start.env }, { width: 100, height: 30, env: { TERM: 'xterm-256color' } });
  const resize = events.findIndex(([, code, data]) => code === 'r' && data === '120x40');
  assert.ok(resize > 0, 'no resize event');
  const times = events.map(([t]) => t);
  assert.deepEqual(times, [...times].sort((a, b) => a - b), 'event times go forward');
});

test('a shell without a PTY (a script on stdin): each line is decided and sent only when allowed', async () => {
  const victim = join(s.sshd.dir, 'script-victim');
  await writeFile(victim, 'keep me');
  const r = await s.ssh(BOX, ['-T'], { input: `echo first\nrm -f ${victim}\necho second\n` });
  assert.equal(r.stdout, 'first\nsecond\n');
  assert.equal(r.stderr, `chaperone: denied: ${DENY_MESSAGE}\n`);
  assert.equal(r.code, 0);
  assert.ok(existsSync(victim), 'the denied line ran');
});
