// TerminalRecorder: the header first, then asciicast events batched by size and on close.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RecordEvent } from '@chaperone/core/records/types';
import { TerminalRecorder } from './terminal-recorder.js';

test('header, batched events with times, resize, split UTF-8, flush on size and close', () => {
  const records: RecordEvent[] = [];
  let now = 1000;
  const t = new TerminalRecorder({ channel: 0, width: 80, height: 24, env: { TERM: 'xterm' }, record: (e) => records.push(e), maxBytes: 20, now: () => now });
  assert.deepEqual(records, [{ type: 'terminal.start', channel: 0, width: 80, height: 24, env: { TERM: 'xterm' } }]);
  const e = Buffer.from('é');
  t.output(Buffer.from('$ '));
  now += 250;
  t.input(Buffer.from('ls'));
  t.output(e.subarray(0, 1));
  t.output(e.subarray(1));
  t.resize(100, 30);
  assert.equal(records.length, 1);
  t.output(Buffer.from('0123456789'));
  assert.equal(records.length, 2);
  assert.deepEqual(records[1], { type: 'terminal', channel: 0, events: [[0, 'o', '$ '], [0.25, 'i', 'ls'], [0.25, 'o', 'é'], [0.25, 'r', '100x30'], [0.25, 'o', '0123456789']] });
  now += 1000;
  t.output(Buffer.from('bye'));
  t.close();
  t.output(Buffer.from('late'));
  assert.deepEqual(records[2], { type: 'terminal', channel: 0, events: [[1.25, 'o', 'bye']] });
  assert.equal(records.length, 3);
});
