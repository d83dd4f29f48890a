// LineGuard: typing passes at once, each submit key yields the line; edits it cannot follow
// mark the line uncertain.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineGuard, mayExpandHistory } from './line-guard.js';
import type { GuardStep } from './line-guard.js';

const lines = (steps: GuardStep[]) => steps.filter((s) => s.type === 'line').map((s) => [s.line, s.uncertain]);
const passed = (steps: GuardStep[]) => Buffer.concat(steps.filter((s) => s.type === 'pass').map((s) => s.data)).toString();

test('plain lines, across chunks, with backspace, Ctrl-U and Ctrl-W', () => {
  const g = new LineGuard();
  assert.deepEqual(lines(g.feed(Buffer.from('ls -l'))), []);
  assert.deepEqual(lines(g.feed(Buffer.from(' /tmp\r'))), [['ls -l /tmp', undefined]]);
  assert.deepEqual(lines(g.feed(Buffer.from('rmx\x7f -rf /\r'))), [['rm -rf /', undefined]]);
  assert.deepEqual(lines(g.feed(Buffer.from('echo\x15rm a\r'))), [['rm a', undefined]]);
  assert.deepEqual(lines(g.feed(Buffer.from('echo a b\x17c\n'))), [['echo a c', undefined]]);
  const steps = g.feed(Buffer.from('a\rb\r\x0f'));
  assert.deepEqual(lines(steps), [['a', undefined], ['b', undefined], ['', undefined]]);
  assert.equal(passed(steps), 'ab');
});

test('multi-byte characters split between chunks', () => {
  const g = new LineGuard();
  const bytes = Buffer.from('echo é\r');
  g.feed(bytes.subarray(0, 6));
  assert.deepEqual(lines(g.feed(bytes.subarray(6))), [['echo é', undefined]]);
});

test('keys the guard cannot follow make the line uncertain until it is submitted', () => {
  const g = new LineGuard();
  assert.equal(lines(g.feed(Buffer.from('r\tx\r')))[0]?.[1], 'tab completion');
  assert.equal(lines(g.feed(Buffer.from('\x1b[A\r')))[0]?.[1], 'cursor or editing keys');
  assert.equal(lines(g.feed(Buffer.from('\x19\r')))[0]?.[1], 'control key Ctrl-Y');
  assert.deepEqual(lines(g.feed(Buffer.from('ls\r'))), [['ls', undefined]]);
  assert.deepEqual(lines(g.feed(Buffer.from('\x1b[A\x03ls\r'))), [['ls', undefined]]);
});

test('history expansion is spotted, ordinary lines are not', () => {
  for (const yes of ['!!', 'sudo !!', '!-2', '!rm', 'echo !$', '^echo ^', '  ^a^b']) assert.equal(mayExpandHistory(yes), true, yes);
  for (const no of ['ls -l', 'test ! -f x', '[ a != b ]', 'echo hi !', 'x=1']) assert.equal(mayExpandHistory(no), false, no);
});

test('Ctrl-X never reaches the target: Ctrl-X Ctrl-E would run the line from an editor with no submit key', () => {
  // Checked by hand against bash 5.2: `touch /tmp/x`, Ctrl-X Ctrl-E, then vi's `ZZ` runs it.
  const g = new LineGuard();
  const steps = [...g.feed(Buffer.from('touch /tmp/x\x18')), ...g.feed(Buffer.from('\x05ZZ'))];
  assert.equal(passed(steps).includes('\x18'), false);
  assert.equal(passed(steps), 'touch /tmp/x\x05ZZ');
  assert.deepEqual(lines(steps), []);
  // The line it was typed into cannot be checked any more; the next one can.
  assert.match(String(lines(g.feed(Buffer.from('\r')))[0]?.[1]), /Ctrl-X/);
  assert.deepEqual(lines(g.feed(Buffer.from('ls\x18\rls\r'))).map(([, u]) => u === undefined), [false, true]);
});
