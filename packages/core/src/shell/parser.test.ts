// The parser layer: the GopherJS representation it reads, for the one mvdan-sh release it knows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { parseShell } from './parser.js';

type Plain = Record<string, unknown>;

test('mvdan-sh is the release whose GopherJS representation parser.ts reads', () => {
  const pkg = createRequire(import.meta.url)('mvdan-sh/package.json') as { version: string };
  assert.equal(pkg.version, '0.10.1', 'parser.ts reads GopherJS internals; check them again before moving to another release');
});

test('the tree comes out as plain objects with Go type names, UTF-8 text decoded, nil as null', () => {
  const parsed = parseShell("ls 'é€' > out; if a; then b; fi");
  assert.ok(parsed.ok);
  // The test reads the tree as JSON would see it.
  const tree = JSON.parse(JSON.stringify(parsed.file)) as { Stmts: { Cmd: Plain; Redirs: Plain[] }[] };
  const [first, second] = tree.Stmts;
  assert.equal(first?.Cmd['type'], 'CallExpr');
  assert.deepEqual(first?.Cmd['Args'], [
    { type: 'Word', Parts: [{ type: 'Lit', Value: 'ls' }] },
    { type: 'Word', Parts: [{ type: 'SglQuoted', Dollar: false, Value: 'é€' }] },
  ]);
  assert.equal(first?.Redirs[0]?.['Hdoc'], null);
  assert.equal(second?.Cmd['type'], 'IfClause');
  assert.equal(second?.Cmd['Else'], null);
});

test('loading the parser leaves no global require behind', () => {
  assert.ok(parseShell('ls').ok);
  assert.equal(Object.prototype.hasOwnProperty.call(globalThis, 'require'), false);
});

test('syntax errors are values with the parser message', () => {
  assert.deepEqual(parseShell('echo "é'), { ok: false, error: '1:6: reached EOF without closing quote "', incomplete: true });
  assert.deepEqual(parseShell('echo é)'), { ok: false, error: '1:8: a command can only contain words and redirects; encountered )', incomplete: false });
});
