// Replay routes against a real store: the asciicast, channels, errors, the admin token, and the
// browser's ticket → cookie swap (one-time, one session, expired links refused).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseAsciicast } from '@chaperone/core/records/asciicast';
import { startTestPostgres, type TestPostgres } from '../testing/embedded.js';
import { buildTestApp, sampleDocs, type TestApp } from '../testing/app.js';
import { sessionChain } from '../testing/records.js';
import { SAMPLE_SHELL, terminalSession, type RecordedTerminal } from '../testing/terminal-records.js';
import { ASCIICAST_TYPE, VIEW_COOKIE } from './replay.js';

const bot = { namespace: 'agents', serviceAccount: 'support-bot' };
const ADMIN = 'admin-token-for-replay-tests-0123';
const TOP: RecordedTerminal = { channel: 2, width: 120, height: 40, command: 'top -b -n1', batches: [[[0.1, 'o', 'top - 10:00:00 up 1 day']]] };
let pg: TestPostgres;
let t: TestApp;

before(async () => {
  pg = await startTestPostgres();
  t = await buildTestApp(pg.url, { docs: sampleDocs(), secrets: { 'orders-db-admin': { username: 'u', password: 'p' } }, adminToken: ADMIN });
  const grant = await t.grantFor(bot);
  const records = [...terminalSession('ssh-1', bot, [SAMPLE_SHELL, TOP]), ...sessionChain('pg-1', bot)];
  const res = await t.app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${grant}` }, payload: { records } });
  assert.equal(res.statusCode, 200, res.body);
});
after(async () => {
  await t?.close();
  await pg?.cleanup();
});

const admin = { authorization: `Bearer ${ADMIN}` };

test('GET /v1/sessions/:id/cast is the first terminal as asciicast v2', async () => {
  const res = await t.app.inject({ method: 'GET', url: '/v1/sessions/ssh-1/cast', headers: admin });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['content-type'], ASCIICAST_TYPE);
  const cast = parseAsciicast(res.body);
  assert.ok(cast.ok);
  assert.equal(cast.cast.header.width, 80);
  assert.deepEqual(cast.cast.header.env, { TERM: 'xterm-256color' });
  assert.deepEqual(cast.cast.events, SAMPLE_SHELL.batches.flat());
});

test('?channel= picks another terminal; unknown channels and sessions without a terminal are 404s that say so', async () => {
  const top = await t.app.inject({ method: 'GET', url: '/v1/sessions/ssh-1/cast?channel=2', headers: admin });
  assert.equal(top.statusCode, 200);
  const cast = parseAsciicast(top.body);
  assert.ok(cast.ok);
  assert.equal(cast.cast.header.command, 'top -b -n1');
  for (const [url, code, message] of [
    ['/v1/sessions/ssh-1/cast?channel=5', 'REPLAY_ERR_NO_TERMINAL', /no terminal on channel 5; its terminals are on channel 0, 2/],
    ['/v1/sessions/pg-1/cast', 'REPLAY_ERR_NO_TERMINAL', /recorded no terminal/],
    ['/v1/sessions/nope/cast', 'SESSIONS_ERR_NOT_FOUND', /no session nope/],
  ] as const) {
    const res = await t.app.inject({ method: 'GET', url, headers: admin });
    assert.equal(res.statusCode, 404, url);
    const { error } = res.json() as { error: { code: string; message: string } };
    assert.equal(error.code, code);
    assert.match(error.message, message);
  }
  assert.equal((await t.app.inject({ method: 'GET', url: '/v1/sessions/ssh-1/cast?channel=x', headers: admin })).statusCode, 400);
});

test('the cast, the ticket and the page need the admin token; a grant is not enough', async () => {
  const grant = await t.grantFor(bot);
  for (const [method, url] of [['GET', '/v1/sessions/ssh-1/cast'], ['POST', '/v1/sessions/ssh-1/replay-ticket'], ['GET', '/replay/ssh-1/cast']] as const) {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${grant}` }]) {
      const res = await t.app.inject({ method, url, headers });
      assert.equal(res.statusCode, 401, `${method} ${url}`);
    }
  }
  const page = await t.app.inject({ method: 'GET', url: '/replay/ssh-1' });
  assert.equal(page.statusCode, 401);
  assert.match(page.body, /chaperone sessions replay ssh-1 --web/);
});

async function ticket(id = 'ssh-1', query = ''): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: `/v1/sessions/${id}/replay-ticket${query}`, headers: admin });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { path: string }).path;
}

function viewCookie(setCookie: string | string[] | undefined): string {
  const line = [setCookie].flat()[0] ?? '';
  assert.match(line, new RegExp(`^${VIEW_COOKIE}=[^;]+; Path=/replay/ssh-1; Max-Age=\\d+; HttpOnly; SameSite=Strict$`));
  return line.split(';')[0]!;
}

test('a ticket opens the page once: swapped for a session-scoped cookie and a redirect without it', async () => {
  const path = await ticket();
  assert.match(path, /^\/replay\/ssh-1\?ticket=[\w-]+\.[\w-]+&channel=0$/);
  const swap = await t.app.inject({ method: 'GET', url: path });
  assert.equal(swap.statusCode, 303);
  assert.equal(swap.headers.location, '/replay/ssh-1?channel=0');
  assert.equal(swap.headers['referrer-policy'], 'no-referrer');
  const cookie = viewCookie(swap.headers['set-cookie']);

  const page = await t.app.inject({ method: 'GET', url: '/replay/ssh-1?channel=0', headers: { cookie } });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self' 'wasm-unsafe-eval'/);
  assert.match(page.body, /data-cast="\/replay\/ssh-1\/cast\?channel=0" data-cols="80" data-rows="24"/);
  assert.match(page.body, /<script src="\/replay\/assets\/asciinema-player.min.js">/);
  assert.match(page.body, /href="\/replay\/ssh-1\?channel=2">channel 2</);
  const cast = await t.app.inject({ method: 'GET', url: '/replay/ssh-1/cast?channel=0', headers: { cookie: `other=1; ${cookie}` } });
  assert.equal(cast.statusCode, 200);
  assert.ok(parseAsciicast(cast.body).ok);

  const again = await t.app.inject({ method: 'GET', url: path });
  assert.equal(again.statusCode, 401, 'a ticket works once');
  assert.equal(again.headers['set-cookie'], undefined);
});

test('a ticket or cookie for one session opens no other, and a forged one nothing', async () => {
  const grant = await t.grantFor(bot);
  const more = await t.app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${grant}` }, payload: { records: terminalSession('ssh-2', bot, [SAMPLE_SHELL]) } });
  assert.equal(more.statusCode, 200, more.body);
  const path = await ticket();
  const token = new URL(path, 'http://x').searchParams.get('ticket')!;
  assert.equal((await t.app.inject({ method: 'GET', url: `/replay/ssh-2?ticket=${token}` })).statusCode, 401);
  const cookie = viewCookie((await t.app.inject({ method: 'GET', url: path })).headers['set-cookie']);
  assert.equal((await t.app.inject({ method: 'GET', url: '/replay/ssh-2', headers: { cookie } })).statusCode, 401);
  assert.equal((await t.app.inject({ method: 'GET', url: '/replay/ssh-2/cast', headers: { cookie } })).statusCode, 401);
  // The ticket's own value cannot serve as the cookie, nor a cookie as a ticket.
  const fresh = new URL(await ticket(), 'http://x').searchParams.get('ticket')!;
  assert.equal((await t.app.inject({ method: 'GET', url: '/replay/ssh-1', headers: { cookie: `${VIEW_COOKIE}=${fresh}` } })).statusCode, 401);
  assert.equal((await t.app.inject({ method: 'GET', url: `/replay/ssh-1?ticket=${cookie.split('=')[1]}` })).statusCode, 401);
  const [body, sig] = fresh.split('.') as [string, string];
  const forged = `${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), s: 'ssh-2' })).toString('base64url')}.${sig}`;
  assert.equal((await t.app.inject({ method: 'GET', url: `/replay/ssh-2?ticket=${forged}` })).statusCode, 401);
});

test('no ticket for a session with nothing to replay; the admin token opens the page directly', async () => {
  const res = await t.app.inject({ method: 'POST', url: '/v1/sessions/pg-1/replay-ticket', headers: admin });
  assert.equal(res.statusCode, 404);
  assert.equal((res.json() as { error: { code: string } }).error.code, 'REPLAY_ERR_NO_TERMINAL');
  const page = await t.app.inject({ method: 'GET', url: '/replay/ssh-1?channel=2', headers: admin });
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /running <code>top -b -n1<\/code>/);
  const none = await t.app.inject({ method: 'GET', url: '/replay/pg-1', headers: admin });
  assert.equal(none.statusCode, 404);
  assert.match(none.body, /recorded no terminal/);
});

test('a Kubernetes exec session with a terminal replays like an SSH one', async () => {
  const grant = await t.grantFor(bot);
  const records = terminalSession('kube-1', bot, [{ channel: 0, width: 80, height: 24, command: 'kubectl exec -it web -- sh', batches: [[[0.1, 'o', '/ # '], [0.5, 'o', 'ls\r\nbin etc\r\n']]] }], { connection: 'cluster', protocol: 'kubernetes' });
  const res = await t.app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${grant}` }, payload: { records } });
  assert.equal(res.statusCode, 200, res.body);
  const cast = await t.app.inject({ method: 'GET', url: '/v1/sessions/kube-1/cast', headers: admin });
  assert.equal(cast.statusCode, 200);
  const parsed = parseAsciicast(cast.body);
  assert.ok(parsed.ok);
  assert.equal(parsed.cast.header.command, 'kubectl exec -it web -- sh');
  assert.deepEqual(parsed.cast.events.map((e) => e[2]).join(''), '/ # ls\r\nbin etc\r\n');
});

test('the player\'s files come from the control plane itself', async () => {
  const js = await t.app.inject({ method: 'GET', url: '/replay/assets/asciinema-player.min.js' });
  assert.equal(js.statusCode, 200);
  assert.match(String(js.headers['content-type']), /^text\/javascript/);
  assert.match(js.body, /AsciinemaPlayer/);
  const css = await t.app.inject({ method: 'GET', url: '/replay/assets/asciinema-player.css' });
  assert.equal(css.statusCode, 200);
  assert.match(css.body, /\.ap-player/);
  assert.equal((await t.app.inject({ method: 'GET', url: '/replay/assets/..%2Fpackage.json' })).statusCode, 404);
});
