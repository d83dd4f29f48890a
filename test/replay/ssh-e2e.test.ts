// End to end: a real `ssh -tt` session through the sidecar to a real sshd is recorded, shipped to
// the control plane, and `chaperone sessions replay` plays back exactly the bytes the agent's
// ssh printed; the asciicast the control plane serves carries the terminal's size and TERM; the
// replay page in headless Chromium shows the same session's output.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import type { SessionSummary } from '@chaperone/core/api';
import { parseAsciicast } from '@chaperone/core/records/asciicast';
import { CLI, requireBuiltCli } from '../e2e/support.js';
import { ADMIN_TOKEN, BOX, eventually, startStack, type Stack } from '../ssh/support.js';

let s: Stack;
let recorded: { id: string; marker: string } | undefined;
before(async () => { s = await startStack(); });
after(async () => { await s?.stop(); });

function controlPlaneUrl(): string {
  return `http://127.0.0.1:${(s.cp.app.server.address() as AddressInfo).port}`;
}

function replay(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  requireBuiltCli();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'sessions', 'replay', ...args, '--control-plane', controlPlaneUrl()], {
      env: { ...process.env, CHAPERONE_TOKEN: ADMIN_TOKEN }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`replay did not finish\n${stderr}`)); }, 120_000);
    child.once('error', reject);
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout: Buffer.concat(out), stderr }); });
  });
}

test('a recorded ssh -tt session replays as the bytes ssh printed', async () => {
  const marker = `replay-marker-${process.pid}`;
  const r = await s.ssh(BOX, ['-tt'], { input: `echo ${marker}-$((6*7))\nprintf '\\033[1;31mred\\033[0m h\\303\\251llo\\n'\nexit\n` });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${marker}-42`));

  // The session is complete once its end record arrived (records ship asynchronously).
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const session = await eventually('the recorded ssh session, ended', async () => {
    const list = await s.cp.app.inject({ method: 'GET', url: `/v1/sessions?connection=${BOX}&limit=500`, headers: auth });
    for (const summary of list.json() as SessionSummary[]) {
      if (!summary.endedAt) continue;
      const cast = await s.cp.app.inject({ method: 'GET', url: `/v1/sessions/${summary.id}/cast`, headers: auth });
      if (cast.statusCode === 200 && cast.body.includes(`${marker}-42`)) return { id: summary.id, cast: cast.body };
    }
    return undefined;
  });

  const cast = parseAsciicast(session.cast);
  assert.ok(cast.ok);
  assert.equal(cast.cast.header.env?.TERM !== undefined, true, 'TERM is recorded');
  assert.ok(cast.cast.events.some(([, code, data]) => code === 'i' && data.includes(`echo ${marker}`)), 'typed input is recorded');

  const played = await replay([session.id, '--speed', '1000']);
  assert.equal(played.code, 0, played.stderr);
  assert.equal(played.stdout.toString('utf8'), r.stdout, 'the replay is what the agent saw');
  assert.ok(played.stdout.toString('utf8').includes('\u001b[1;31mred\u001b[0m h\u00e9llo'), 'colours and UTF-8 come through');
  recorded = { id: session.id, marker };
});

test('the replay page plays the recorded ssh session in Chromium', async () => {
  assert.ok(recorded, 'needs the session recorded by the test before');
  const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  assert.ok(existsSync(chromiumPath), `${chromiumPath} is missing: install Debian's chromium (\`apt-get install chromium\`, or \`make deps\`), or set CHROMIUM_PATH`);
  const res = await s.cp.app.inject({ method: 'POST', url: `/v1/sessions/${recorded.id}/replay-ticket`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(res.statusCode, 200, res.body);
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    assert.equal((await page.goto(`${controlPlaneUrl()}${(res.json() as { path: string }).path}`))?.status(), 200);
    await page.waitForFunction(() => typeof (globalThis as unknown as { chaperonePlayer?: unknown }).chaperonePlayer === 'object');
    await page.evaluate(async () => {
      const player = (globalThis as unknown as { chaperonePlayer: { getDuration(): Promise<number | undefined>; seek(t: number): Promise<void> } }).chaperonePlayer;
      await player.seek(0);
      await player.seek((await player.getDuration()) ?? 1e6);
    });
    const text = (await page.locator('.ap-term-text').first().innerText()).replace(/\s+/g, '');
    assert.ok(text.includes(`${recorded.marker}-42`), text);
    assert.ok(text.includes('redh\u00e9llo'), text);
  } finally {
    await browser.close();
  }
});
