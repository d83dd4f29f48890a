// The request log line keeps replay tickets (and other secrets in query strings) out of the log.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import Fastify from 'fastify';
import { controlPlaneLogger, redactUrl } from './request-log.js';

test('secret query parameters are redacted, the rest of the URL kept', () => {
  assert.equal(redactUrl('/replay/s-1?ticket=abc.def&channel=2'), '/replay/s-1?ticket=[redacted]&channel=2');
  assert.equal(redactUrl('/x?Token=t&a=1&%74icket=z'), '/x?Token=[redacted]&a=1&%74icket=[redacted]');
  assert.equal(redactUrl('/v1/sessions?limit=5'), '/v1/sessions?limit=5');
  assert.equal(redactUrl('/plain'), '/plain');
  assert.equal(redactUrl('/x?ticket&%zz=1'), '/x?ticket&%zz=1');
});

test('a fastify server with the control plane\'s logger does not log the replay ticket', async () => {
  const out = new PassThrough();
  let logged = '';
  out.on('data', (d: Buffer) => { logged += d.toString(); });
  const app = Fastify({ logger: controlPlaneLogger('info', out) });
  app.get('/replay/:id', async () => 'ok');
  const res = await app.inject({ method: 'GET', url: '/replay/s-1?ticket=SECRET-TICKET-VALUE&channel=0', headers: { authorization: 'Bearer SECRET-BEARER' } });
  assert.equal(res.statusCode, 200);
  await app.close();
  assert.match(logged, /"url":"\/replay\/s-1\?ticket=\[redacted\]&channel=0"/);
  assert.doesNotMatch(logged, /SECRET-TICKET-VALUE|SECRET-BEARER/);
});
