// The replay page in a real browser: headless Chromium (Debian's package) driven by
// playwright-core opens the one-time link for a recorded session, and the asciinema-player on
// the page, loaded from the control plane alone, shows the recorded output.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN, startReplayStack, type ReplayStack } from './support.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let stack: ReplayStack;
let browser: Browser;

before(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (\`apt-get install chromium\`, or \`make deps\`), or set CHROMIUM_PATH`);
  }
  stack = await startReplayStack();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  await stack?.close();
});

async function ticketLink(channel?: number): Promise<string> {
  const res = await fetch(`${stack.url}/v1/sessions/ssh-1/replay-ticket${channel === undefined ? '' : `?channel=${channel}`}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(res.status, 200, await res.clone().text());
  return `${stack.url}${((await res.json()) as { path: string }).path}`;
}

/** A page that fails the test on a script error and records every request it makes. */
async function openPage(): Promise<{ page: Page; errors: string[]; requests: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', (r) => requests.push(r.url()));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  return { page, errors, requests };
}

/** Seeks the player to the end of the recording and reads its terminal's text from the DOM. */
async function terminalTextAtEnd(page: Page): Promise<string> {
  await page.waitForFunction(() => typeof (globalThis as unknown as { chaperonePlayer?: unknown }).chaperonePlayer === 'object');
  await page.evaluate(async () => {
    const player = (globalThis as unknown as { chaperonePlayer: { getDuration(): Promise<number | undefined>; seek(t: number): Promise<void> } }).chaperonePlayer;
    // The duration is known once the cast is loaded; seeking loads it.
    await player.seek(0);
    const duration = await player.getDuration();
    await player.seek(duration ?? 1e6);
  });
  const text = page.locator('.ap-term-text');
  await text.first().waitFor();
  return (await text.first().innerText());
}

test('the one-time link opens the page and the player shows the recorded shell', async () => {
  const { page, errors, requests } = await openPage();
  const res = await page.goto(await ticketLink());
  assert.equal(res?.status(), 200);
  assert.equal(new URL(page.url()).search, '?channel=0', 'the ticket is gone from the address bar');
  // Whitespace aside (the player pads lines and may break styled runs apart), the screen is the recording's.
  const text = (await terminalTextAtEnd(page)).replace(/\s+/g, '');
  assert.ok(text.startsWith('agent@bastion:~$echoh\u00e9lloh\u00e9lloagent@bastion:~$uptime-marker-7logout'), text);
  assert.deepEqual(errors, []);
  assert.deepEqual(requests.filter((u) => !u.startsWith(stack.url)), [], 'nothing is loaded from another origin');
  await page.context().close();
});

test('another channel\'s page shows that terminal: a full-screen program', async () => {
  const { page, errors } = await openPage();
  await page.goto(await ticketLink(2));
  await page.evaluate(async () => {
    const player = (globalThis as unknown as { chaperonePlayer: { seek(t: number): Promise<void> } }).chaperonePlayer;
    await player.seek(0.5);
  });
  const text = await page.locator('.ap-term-text').first().innerText();
  assert.match(text, /top - 10:00:00 up 1 day/);
  assert.match(text, /PID USER COMMAND/);
  assert.deepEqual(errors, []);
  await page.context().close();
});

test('a used link shows the page that says how to get a new one, and no player', async () => {
  const link = await ticketLink();
  const first = await fetch(link, { redirect: 'manual' });
  assert.equal(first.status, 303);
  const { page, errors } = await openPage();
  const res = await page.goto(link);
  assert.equal(res?.status(), 401);
  assert.match(await page.locator('body').innerText(), /chaperone sessions replay ssh-1 --web/);
  assert.equal(await page.locator('.ap-player').count(), 0);
  assert.deepEqual(errors.filter((e) => !e.includes('401')), []);
  await page.context().close();
});
