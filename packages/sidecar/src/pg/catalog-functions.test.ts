// Function purity from pg_proc rows: PostgreSQL's own functions compute, except those that read
// data; user functions never count; an unqualified name is pure only if every candidate is.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callIsPure, isPureFunction, parseFunctionRow } from './catalog-functions.js';
import type { FunctionRow } from './catalog-functions.js';

const fn = (schema: string, name: string, o: Partial<FunctionRow> = {}): FunctionRow => ({ schema, name, kind: 'f', extension: null, ...o });

describe('catalog function purity', () => {
  it('PostgreSQL\'s own functions are pure unless they read tables, files or changes', () => {
    assert.equal(isPureFunction(fn('pg_catalog', 'lower')), true);
    assert.equal(isPureFunction(fn('pg_catalog', 'string_agg', { kind: 'a' })), true);
    for (const n of ['query_to_xml', 'pg_logical_slot_peek_changes', 'pg_read_file', 'lo_get']) assert.equal(isPureFunction(fn('pg_catalog', n)), false, n);
  });

  it('user functions and user aggregates are not pure; computing extensions\' functions are', () => {
    assert.equal(isPureFunction(fn('public', 'my_lower')), false);
    assert.equal(isPureFunction(fn('public', 'agg', { kind: 'a', extension: 'pgcrypto' })), false);
    assert.equal(isPureFunction(fn('public', 'digest', { extension: 'pgcrypto' })), true);
    assert.equal(isPureFunction(fn('public', 'dblink', { extension: 'dblink' })), false);
    assert.equal(isPureFunction(fn('pg_catalog', 'f', { extension: 'dblink' })), false);
  });

  it('an unqualified call is pure only when every reachable candidate is; none is not pure', () => {
    const rows = [fn('pg_catalog', 'lower'), fn('evil', 'lower', {})];
    assert.equal(callIsPure(rows, undefined), false);
    assert.equal(callIsPure(rows, 'pg_catalog'), true);
    assert.equal(callIsPure(rows, 'evil'), false);
    assert.equal(callIsPure([], undefined), false);
  });

  it('malformed rows are dropped, not thrown', () => {
    assert.equal(parseFunctionRow('{'), null);
    assert.equal(parseFunctionRow('{"schema":1}'), null);
    assert.deepEqual(parseFunctionRow('{"schema":"s","name":"n","kind":"f","ext":null}'), fn('s', 'n'));
  });
});
