// `chaperone sessions replay` as a user runs it, against a real control plane: the replay written
// into a pipe is byte for byte what the terminal printed (typed input is not replayed), --channel,
// --cast, --web (a one-time link that opens the page), and clear errors.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { parseAsciicast } from '@chaperone/core/records/asciicast';
import { recordedOutput, SAMPLE_SHELL } from '@chaperone/control-plane/testing/terminal-records';
import { CLI, requireBuiltCli } from '../e2e/support.js';
import { ADMIN, startReplayStack, TOP, type ReplayStack } from './support.js';

let stack: ReplayStack;
before(async () => { stack = await startReplayStack(); });
after(async () => { await stack?.close(); });

interface Run { code: number | null; stdout: Buffer; stderr: string }

/** The compiled CLI with its stdout a pipe, kept as bytes. */
function replay(args: string[], token: string | null = ADMIN): Promise<Run> {
  requireBuiltCli();
  const env: NodeJS.ProcessEnv = { ...process.env, CHAPERONE_CONTROL_PLANE: stack.url, XDG_STATE_HOME: '/nonexistent' };
  delete env.CHAPERONE_TOKEN;
  if (token !== null) env.CHAPERONE_TOKEN = token;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'sessions', 'replay', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`replay ${args.join(' ')} did not finish\n${stderr}`)); }, 120_000);
    child.once('error', reject);
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout: Buffer.concat(out), stderr }); });
  });
}

test('a fast replay into a pipe writes exactly the recorded output bytes', async () => {
  const r = await replay(['ssh-1', '--speed', '1000']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(r.stdout, Buffer.from(recordedOutput(SAMPLE_SHELL), 'utf8'));
  assert.ok(!r.stdout.includes('\u0004'), 'typed input (the Ctrl-D that was not echoed) is not replayed');
});

test('--channel replays another terminal; --max-idle keeps the bytes the same', async () => {
  const r = await replay(['ssh-1', '--channel', '2', '--speed', '50', '--max-idle', '0']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout, Buffer.from(recordedOutput(TOP), 'utf8'));
});

test('--cast prints the asciicast v2 file the control plane serves', async () => {
  const r = await replay(['ssh-1', '--cast']);
  assert.equal(r.code, 0, r.stderr);
  const served = await fetch(`${stack.url}/v1/sessions/ssh-1/cast`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(r.stdout.toString('utf8'), await served.text());
  const cast = parseAsciicast(r.stdout.toString('utf8'));
  assert.ok(cast.ok);
  assert.deepEqual(cast.cast.events, SAMPLE_SHELL.batches.flat());
});

test('--web prints a link that opens the replay page once', async () => {
  const r = await replay(['ssh-1', '--web']);
  assert.equal(r.code, 0, r.stderr);
  const link = r.stdout.toString().trim();
  assert.match(link, new RegExp(`^${stack.url}/replay/ssh-1\\?ticket=`));
  assert.match(r.stderr, /the link works once/);
  const first = await fetch(link, { redirect: 'manual' });
  assert.equal(first.status, 303);
  const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0]!;
  const page = await fetch(new URL(first.headers.get('location')!, stack.url), { headers: { cookie } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /asciinema-player\.min\.js/);
  assert.equal((await fetch(link, { redirect: 'manual' })).status, 401);
});

test('a session with no terminal, an unknown channel or session, a missing token and bad flags fail clearly', async () => {
  const none = await replay(['pg-1']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /pg-1: the session recorded no terminal .*\[REPLAY_ERR_NO_TERMINAL\]/);
  const channel = await replay(['ssh-1', '--channel', '9']);
  assert.equal(channel.code, 1);
  assert.match(channel.stderr, /no terminal on channel 9; its terminals are on channel 0, 2/);
  const missing = await replay(['nope']);
  assert.match(missing.stderr, /no session nope \[SESSIONS_ERR_NOT_FOUND\]/);
  const anonymous = await replay(['ssh-1'], null);
  assert.equal(anonymous.code, 1);
  assert.match(anonymous.stderr, /\[AUTH_ERR_ADMIN_REQUIRED\]/);
  for (const bad of [['ssh-1', '--speed', '0'], ['ssh-1', '--speed', 'fast'], ['ssh-1', '--channel', '-1'], ['ssh-1', '--cast', '--web'], []]) {
    const r = await replay(bad);
    assert.equal(r.code, 2, bad.join(' '));
    assert.match(r.stderr, /usage: chaperone sessions replay ID/);
  }
});
