// Properties: wrapping a command line in shells, sudo, env, sub-shells or substitutions never
// changes whether it runs a denied program; analysis never throws on any text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { analyzeCommandLine } from './analyze.js';
import { createShellParser } from './parser.js';
import { decideCommand } from './policy.js';
import { shellPolicy } from './test-policies.js';

const POLICY = shellPolicy(`  rules:
    - { action: deny, match: { commands: [rm, "systemctl stop *", shutdown] } }
  default: allow`);

/** A line, and whether it is one simple command (so that prefix wrappers such as `env` apply). */
interface Line { text: string; simple: boolean }

const word = fc.stringMatching(/^[a-zA-Z0-9_./=-]{1,8}$/).filter((w) => !w.includes('='));
const denied = fc.oneof(
  fc.tuple(fc.constantFrom('rm', '/bin/rm', "r''m", '\\rm', '"rm"', "$'\\x72m'"), fc.array(word, { maxLength: 3 }))
    .map(([p, args]) => [p, ...args].join(' ')),
  word.map((unit) => `systemctl stop ${unit}`),
  fc.constant('shutdown -h now'),
).map((text): Line => ({ text, simple: true }));
// Not `systemctl status`: after xargs its appended words could be `stop`, which deny rules catch.
const benign = fc.tuple(fc.constantFrom('ls', 'cat', 'echo', 'uptime', 'hostname', 'df -h'), fc.array(word, { maxLength: 3 }))
  .map(([p, args]): Line => ({ text: [p, ...args].join(' '), simple: true }));

const sq = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/**
 * Wrappers: line → line. Prefix wrappers need a simple command; others take any line. Parentheses
 * get spaces: `((…))` and `$((…))` are arithmetic, where `rm` is a variable name.
 */
const PREFIXES = ['env', 'env -i A=1', 'sudo', 'sudo -u root', 'nice -n 5', 'nohup', 'timeout 5', 'command', 'exec', 'busybox', 'stdbuf -o0', 'setsid', 'xargs -0', 'time'];
type Wrap = (l: Line) => Line;
const wrap: fc.Arbitrary<Wrap> = fc.oneof(
  fc.constantFrom('sh', 'bash', 'zsh', 'dash', 'bash -e').map((sh): Wrap => (l) => ({ text: `${sh} -c ${sq(l.text)}`, simple: false })),
  fc.constantFrom(...PREFIXES).map((prefix): Wrap => (l) => (l.simple ? { text: `${prefix} ${l.text}`, simple: true } : { text: `${prefix} sh -c ${sq(l.text)}`, simple: true })),
  fc.constant<Wrap>((l) => ({ text: `( ${l.text} )`, simple: false })),
  fc.constant<Wrap>((l) => ({ text: `{ ${l.text}\n}`, simple: false })),
  fc.constant<Wrap>((l) => ({ text: `echo "$( ${l.text} )"`, simple: false })),
  fc.constant<Wrap>((l) => ({ text: `cat <( ${l.text} )`, simple: false })),
  fc.constant<Wrap>((l) => ({ text: `eval ${sq(l.text)}`, simple: false })),
  fc.constant<Wrap>((l) => ({ text: `true && ${l.text}`, simple: false })),
  fc.constant<Wrap>((l) => ({ text: `ls | ${l.text.includes('\n') ? `sh -c ${sq(l.text)}` : l.text}`, simple: false })),
  // The delimiter differs from any inner one: the inner text is shorter.
  fc.constant<Wrap>((l) => ({ text: `bash <<'E${l.text.length}'\n${l.text}\nE${l.text.length}\n`, simple: false })),
);

const wrapped = (base: fc.Arbitrary<Line>) => fc.tuple(base, fc.array(wrap, { minLength: 1, maxLength: 5 }))
  .map(([line, wraps]) => wraps.reduce((l, w) => w(l), line).text);

test('property: a denied command stays denied by its rule however it is wrapped', () => {
  fc.assert(fc.property(wrapped(denied), (text) => {
    const d = decideCommand(POLICY, text);
    assert.equal(d.action, 'deny', text);
    assert.equal(d.rule, 'ops#0', text);
  }), { numRuns: 300 });
});

test('property: a benign command stays allowed however it is wrapped', () => {
  fc.assert(fc.property(wrapped(benign), (text) => {
    assert.equal(decideCommand(POLICY, text).action, 'allow', text);
  }), { numRuns: 300 });
});

test('property: analysis never throws, on any text', () => {
  fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom(...'rm -c\'"$`(){};|&<>\\\n *?[]!#=') })), (text) => {
    const a = analyzeCommandLine(text);
    assert.equal(typeof a.ok, 'boolean');
  }), { numRuns: 500 });
});

const ALLOW_LIST = shellPolicy(`  rules:
    - { action: allow, match: { commands: [ls, cat, grep, "systemctl status *"] } }
  default: deny`);

const allowedCommand = fc.tuple(fc.constantFrom('ls', 'cat', 'grep', 'systemctl status'), fc.array(word, { maxLength: 2 }))
  .map(([p, args]) => [p, ...args].join(' '));
const join = fc.constantFrom(' ; ', ' && ', ' || ', ' | ', '\n');
const compose = (parts: string[], joins: string[]) => parts.reduce((line, part, i) => (i === 0 ? part : `${line}${joins[i % joins.length] ?? ' ; '}${part}`), '');

test('property: an allow list allows any composition of allowed commands, and nothing with one other command in it', () => {
  fc.assert(fc.property(
    fc.array(allowedCommand, { minLength: 1, maxLength: 5 }), fc.array(join, { minLength: 1, maxLength: 4 }),
    fc.constantFrom('rm x', 'sudo ls', 'systemctl stop nginx', 'env ls', "sh -c 'ls'", '$X', 'echo hi'), fc.nat(),
    (parts, joins, intruder, at) => {
      const line = compose(parts, joins);
      assert.equal(decideCommand(ALLOW_LIST, line).action, 'allow', line);
      const withIntruder = [...parts];
      withIntruder.splice(at % (parts.length + 1), 0, intruder);
      const bad = compose(withIntruder, joins);
      assert.equal(decideCommand(ALLOW_LIST, bad).action, 'deny', bad);
      assert.equal(decideCommand(ALLOW_LIST, `ls $( ${intruder} )`).action, 'deny');
    },
  ), { numRuns: 300 });
});

test('property: a reused parser analyses exactly as a fresh one', () => {
  const parse = createShellParser();
  fc.assert(fc.property(wrapped(fc.oneof(denied, benign)), (text) => {
    assert.deepEqual(analyzeCommandLine(text, parse), analyzeCommandLine(text));
  }), { numRuns: 100 });
});
