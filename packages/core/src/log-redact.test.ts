// A logger with LOG_REDACT writes no credential, token or grant, at the top level, nested, or in request headers.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { LOG_REDACT } from './log-redact.js';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  return { lines, stream: new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } }) };
}

test('secrets are censored wherever a log call puts them; session ids and names stay', () => {
  const { lines, stream } = capture();
  const log = pino({ level: 'info', redact: LOG_REDACT }, stream);
  log.info({ session: 's-1', connection: 'orders-db', password: 'hunter2', token: 'eyJhbGciOi.x.y' }, 'exchange');
  log.info({ credential: { type: 'password', username: 'app', password: 'hunter2' }, grant: 'g.r.ant' }, 'granted');
  log.info({ req: { method: 'GET', url: '/v1/bundle', headers: { authorization: 'Bearer eyJhbGciOi.x.y', cookie: 'a=b' } } }, 'request');
  log.info({ exchange: { maskKey: 'k3y', token: 'eyJhbGciOi.x.y' } }, 'nested');
  const all = lines.join('');
  for (const secret of ['hunter2', 'eyJhbGciOi', 'g.r.ant', 'k3y', 'a=b']) assert.ok(!all.includes(secret), `${secret} leaked: ${all}`);
  const first = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.deepEqual([first.session, first.connection, first.password], ['s-1', 'orders-db', '[redacted]']);
});
