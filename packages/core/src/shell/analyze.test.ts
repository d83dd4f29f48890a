// What analysis finds in a command line: programs, arguments, dynamic words, unwrapped wrappers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PARSED, analyzeCommandLine, loadShellParser } from './analyze.js';
import type { CommandAnalysis } from './analyze.js';
import { PARAM_TRANSFORM, REDIRECT, nodeType, parseShell, walk } from './parser.js';
import type { ShParamExp, ShStmt } from './parser.js';
import { decodeAnsiC } from './words.js';

/** `program arg arg` per simple command; dynamic words marked with a trailing `?`, a dynamic program with `?` too. */
function brief(line: string): string[] | string {
  const a = analyzeCommandLine(line);
  if (!a.ok) return `error: ${a.error}`;
  return a.commands.map((c) => [c.dynamicProgram ? `${c.program}?` : c.program, ...c.args.map((arg, i) => (c.dynamicArgs.includes(i) ? `${arg}?` : arg))].join(' '));
}

const CASES: [string, string[] | string][] = [
  ['ls -la /tmp', ['ls -la /tmp']],
  ["r''m \"-r\"f $'\\x2f'", ['rm -rf /']],
  ['X=rm; $X -rf /', ['$X? -rf /']],
  ['echo "a$(id -u)b" | wc -c', ['echo a$(…)b?', 'id -u', 'wc -c']],
  ["sudo -u app bash -lc 'cd /srv && make'", ['sudo -u app bash -lc cd /srv && make', 'bash -lc cd /srv && make', 'cd /srv', 'make']],
  ['env -i PATH=/bin A=1 nice -n 5 ls', ['env -i PATH=/bin A=1 nice -n 5 ls', 'nice -n 5 ls', 'ls']],
  ['timeout -k 5 30 ls', ['timeout -k 5 30 ls', 'ls']],
  ['xargs -n 1 -I X grep X', ['xargs -n 1 -I X grep X', 'grep X {input}?']],
  ['find /var -name x -exec rm -f {} \\; -print', ['find /var -name x -exec rm -f {} ; -print', 'rm -f {}?']],
  ['command -v ls', ['command -v ls']],
  ['. ./env.sh; /usr/bin/env', ['source ./env.sh', 'env']],
  ['ls *.log ~/x {a,b} {} "*"', ['ls *.log? ~/x? {a,b}? {} *']],
  ['bash <<EOF\nls $HOME\nEOF\n', ['bash', '(a shell reading an expanded here-document)?']],
  ["bash <<'EOF'\nls $HOME\nEOF\n", ['bash', 'ls $HOME?']],
  ['cat <<EOF\n$(whoami)\nEOF\n', ['cat', 'whoami']],
  ['((x = 1 + 2)); [[ -f x ]]; declare -r y=1', []],
  ['f() { ls; }', ['ls']],
  ['sudo -l', ['sudo -l']],
  ['eval "ls $X"', ['eval ls $X?', '(eval of ls $X)?']],
  ['echo ${#x} ${x:-y}', ['echo ${x}? ${x}?']],
  ['echo "unterminated', 'error: 1:6: reached EOF without closing quote "'],
];

test('analysis of command lines', async () => {
  await loadShellParser();
  for (const [line, expected] of CASES) assert.deepEqual(brief(line), expected, line);
});

test('sh -c strings are parsed again, at most MAX_NESTING deep', () => {
  let line = 'ls';
  for (let i = 0; i < 8; i++) line = `sh -c '${line.replaceAll("'", "'\\''")}'`;
  const a = analyzeCommandLine(line);
  assert.ok(a.ok);
  assert.equal(a.commands.at(-1)?.program, 'ls');
  const deeper = analyzeCommandLine(`sh -c '${line.replaceAll("'", "'\\''")}'`);
  assert.deepEqual(deeper, { ok: false, error: 'shells nested deeper than 8 levels' });
});

test('deeply nested lines are refused as values, not thrown', () => {
  for (const line of [`${'( '.repeat(3000)}ls${' )'.repeat(3000)}`, `echo ${'$('.repeat(10_000)}ls${')'.repeat(10_000)}`]) {
    const a = analyzeCommandLine(line);
    assert.equal(a.ok, false);
  }
});

test('a line more text could complete says so (for lines typed at a prompt)', () => {
  for (const line of ["echo 'x", 'if true; then', 'ls |', 'cat <<EOF\nhi']) {
    assert.deepEqual(pick(analyzeCommandLine(line)), { ok: false, incomplete: true }, line);
  }
  assert.deepEqual(pick(analyzeCommandLine('echo )')), { ok: false, incomplete: false });
});

function pick(a: CommandAnalysis): object {
  return a.ok ? { ok: true } : { ok: false, incomplete: a.incomplete };
}

test('nested shell text parsed for one line is bounded', () => {
  const body = 'ls '.repeat(10_000);
  assert.ok(analyzeCommandLine(`alias a='${body}'`).ok);
  assert.deepEqual(analyzeCommandLine(`alias a='${body}' b='${body}'`), { ok: false, error: `more than ${MAX_PARSED} characters of nested shell text` });
});

test('NUL characters and overlong lines are refused', () => {
  assert.equal(analyzeCommandLine('ls\0rm').ok, false);
  assert.equal(analyzeCommandLine(`echo ${'x'.repeat(70_000)}`).ok, false);
});

test("redirect operator numbers match mvdan/sh's tokens", () => {
  const ops = (text: string) => {
    const parsed = parseShell(text);
    assert.ok(parsed.ok);
    return (parsed.file.Stmts[0] as ShStmt).Redirs[0]?.Op;
  };
  assert.equal(ops('cat <<X\nX\n'), REDIRECT.hdoc);
  assert.equal(ops('cat <<-X\nX\n'), REDIRECT.dashHdoc);
  assert.equal(ops('cat <<< x'), REDIRECT.wordHdoc);
  assert.equal(ops('cat < x'), REDIRECT.input);
  const parsed = parseShell('echo ${x@P}');
  assert.ok(parsed.ok);
  const param = walkFirst(parsed.file, 'ParamExp') as ShParamExp;
  assert.equal(param.Exp?.Op, PARAM_TRANSFORM);
});

function walkFirst(root: object, type: string): object | undefined {
  let found: object | undefined;
  walk(root, (n) => { if (found === undefined && nodeType(n) === type) found = n; });
  return found;
}

test("$'…' decoding as bash does it", () => {
  assert.equal(decodeAnsiC('\\x72\\155\\u00e9\\U0001F600\\n\\t\\\\\\\'\\cA'), 'rmé😀\n\t\\\'\x01');
  assert.equal(decodeAnsiC('a\\x00b'), 'a');
  assert.equal(decodeAnsiC('\\xc3\\xa9'), 'é');
  assert.equal(decodeAnsiC('\\q\\x'), '\\q\\x');
});
