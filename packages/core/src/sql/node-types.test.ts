// The generated node table matches the installed libpg-query, and every statement node has a kind.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { NON_STATEMENT_NODES, STATEMENT_NODE_KINDS } from './node-kinds.js';
import { NODE_TYPES_FILE, generateNodeTypes, pgsqlTypesPath } from './node-types-gen.js';
import { INLINE_FIELDS, NODE_TYPES } from './node-types.js';
import { STATEMENT_KINDS } from './kinds.js';

test('node-types.ts is what node-types-gen.ts makes of the installed @pgsql/types (regenerate on drift)', () => {
  const expected = generateNodeTypes(readFileSync(pgsqlTypesPath(), 'utf8'));
  assert.equal(readFileSync(NODE_TYPES_FILE, 'utf8'), expected,
    'run: node --import tsx packages/core/src/sql/node-types-gen.ts');
});

test('every *Stmt node of the grammar is mapped to kinds or deliberately left out', () => {
  const statements = [...NODE_TYPES].filter((t) => t.endsWith('Stmt'));
  assert.ok(statements.length > 100);
  const unmapped = statements.filter((t) => !Object.hasOwn(STATEMENT_NODE_KINDS, t) && !NON_STATEMENT_NODES.has(t));
  assert.deepEqual(unmapped, []);
  const stale = Object.keys(STATEMENT_NODE_KINDS).filter((t) => !NODE_TYPES.has(t));
  assert.deepEqual(stale, []);
  for (const [type, rule] of Object.entries(STATEMENT_NODE_KINDS)) {
    if (typeof rule === 'string') assert.ok((STATEMENT_KINDS as readonly string[]).includes(rule), type);
  }
});

test('node type names are capitalised and field names are not (how the walker tells them apart)', () => {
  for (const t of NODE_TYPES) assert.match(t, /^[A-Z]/);
  for (const [type, fields] of Object.entries(INLINE_FIELDS)) {
    for (const field of Object.keys(fields)) assert.match(field, /^[a-z_]/, `${type}.${field}`);
  }
});
