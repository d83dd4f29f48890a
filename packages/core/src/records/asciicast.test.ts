// Records → asciicast v2 and back: header, channel choice, reused channels, resize, playback timing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAsciicast, formatAsciicast, listTerminals, parseAsciicast, parseResize, playbackSteps } from './asciicast.js';
import { GENESIS_HASH, sealRecord } from './chain.js';
import type { RecordEvent, SessionRecord } from './types.js';

const start = Date.parse('2030-01-01T00:00:00Z');

function chain(events: RecordEvent[]): SessionRecord[] {
  let prev = GENESIS_HASH;
  return events.map((e, seq) => {
    const r = sealRecord('s1', seq, prev, e, new Date(start + seq * 1000));
    prev = r.hash;
    return r;
  });
}

const begin: RecordEvent = { type: 'session.start', protocol: 'ssh', connection: 'bastion', identity: { namespace: 'agents', serviceAccount: 'bot' }, client: {} };

const records = chain([
  begin,
  { type: 'terminal.start', channel: 0, width: 80, height: 24, env: { TERM: 'xterm-256color' } },
  { type: 'terminal', channel: 0, events: [[0.1, 'o', '$ '], [0.5, 'i', 'ls\r'], [0.6, 'o', 'ls\r\na b\r\n']] },
  { type: 'terminal.start', channel: 1, width: 100, height: 30, command: 'top' },
  { type: 'terminal', channel: 1, events: [[0.2, 'o', 'top output']] },
  { type: 'terminal', channel: 0, events: [[1.5, 'r', '120x40'], [2, 'o', '$ exit\r\n']] },
]);

test('the first terminal becomes an asciicast v2 with the recorded header and all its events', () => {
  const r = buildAsciicast(records);
  assert.ok(r.ok);
  assert.equal(r.channel, 0);
  assert.deepEqual(r.cast.header, { version: 2, width: 80, height: 24, timestamp: Math.floor(start / 1000) + 1, env: { TERM: 'xterm-256color' } });
  assert.deepEqual(r.cast.events, [[0.1, 'o', '$ '], [0.5, 'i', 'ls\r'], [0.6, 'o', 'ls\r\na b\r\n'], [1.5, 'r', '120x40'], [2, 'o', '$ exit\r\n']]);
});

test('--channel picks another terminal; its command goes into the header', () => {
  const r = buildAsciicast(records, 1);
  assert.ok(r.ok);
  assert.deepEqual(r.cast.header, { version: 2, width: 100, height: 30, timestamp: Math.floor(start / 1000) + 3, command: 'top' });
  assert.deepEqual(r.cast.events, [[0.2, 'o', 'top output']]);
});

test('a session without a terminal, or without the asked channel, is an error value naming what there is', () => {
  const none = buildAsciicast(chain([begin]));
  assert.equal(none.ok, false);
  assert.ok(!none.ok && none.code === 'REPLAY_ERR_NO_TERMINAL' && /no terminal/.test(none.message));
  const wrong = buildAsciicast(records, 7);
  assert.ok(!wrong.ok);
  assert.match(wrong.message, /no terminal on channel 7; its terminals are on channel 0, 1/);
  assert.deepEqual(wrong.terminals.map((t) => t.channel), [0, 1]);
});

test('a reused channel number starts a new terminal; events follow the latest start', () => {
  const rs = chain([
    begin,
    { type: 'terminal.start', channel: 3, width: 80, height: 24 },
    { type: 'terminal', channel: 3, events: [[0, 'o', 'first']] },
    { type: 'terminal.start', channel: 3, width: 90, height: 20 },
    { type: 'terminal', channel: 3, events: [[0, 'o', 'second']] },
  ]);
  assert.deepEqual(listTerminals(rs).map((t) => [t.channel, t.width, t.events]), [[3, 80, 1], [3, 90, 1]]);
  const r = buildAsciicast(rs, 3);
  assert.ok(r.ok);
  assert.deepEqual(r.cast.events, [[0, 'o', 'first']]);
});

test('time never goes backwards, and malformed events in records are dropped', () => {
  const rs = chain([
    { type: 'terminal.start', channel: 0, width: 80, height: 24 },
    { type: 'terminal', channel: 0, events: [[2, 'o', 'a'], [1, 'o', 'b'], [Number.NaN, 'o', 'c'], [3, 'x' as 'o', 'd']] },
  ]);
  const r = buildAsciicast(rs);
  assert.ok(r.ok);
  assert.deepEqual(r.cast.events, [[2, 'o', 'a'], [2, 'o', 'b']]);
});

test('format and parse round-trip, including escapes and non-ASCII output', () => {
  const r = buildAsciicast(chain([
    { type: 'terminal.start', channel: 0, width: 80, height: 24 },
    { type: 'terminal', channel: 0, events: [[0.25, 'o', '\u001b[1;31mrød\u001b[0m "q"\r\n'], [1, 'r', '100x50']] },
  ]));
  assert.ok(r.ok);
  const text = formatAsciicast(r.cast);
  assert.equal(text.split('\n').length, 4);
  const back = parseAsciicast(text);
  assert.ok(back.ok);
  assert.deepEqual(back.cast, r.cast);
});

test('malformed asciicast files are error values', () => {
  for (const [text, error] of [
    ['', 'empty file'],
    ['{"version":1,"width":80,"height":24}', /header/],
    ['{"version":2,"width":80,"height":24}\n[0.1,"o"]', /line 2/],
    ['{"version":2,"width":80,"height":24}\nnot json', /line 2: not JSON/],
  ] as const) {
    const r = parseAsciicast(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.error, typeof error === 'string' ? new RegExp(error) : error);
  }
});

test('resize data and playback steps with speed and idle limit', () => {
  assert.deepEqual(parseResize('120x40'), { cols: 120, rows: 40 });
  assert.equal(parseResize('120 x 40'), undefined);
  const steps = playbackSteps([[1, 'o', 'a'], [1.5, 'i', 'x'], [11, 'o', 'b'], [12, 'r', '1x1'], [13, 'o', 'c']], { speed: 2, maxIdle: 2 });
  assert.deepEqual(steps, [{ delay: 0.5, data: 'a' }, { delay: 1, data: 'b' }, { delay: 1, data: 'c' }]);
});
