// resultLineage's `writes` flag: rows that come from a data-modifying statement (whose column
// origins the server reports as the written table's) are marked, and nothing else is; and the
// cursor a DECLARE defines and a FETCH reads, so a caller can trace FETCH through the DECLARE.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loadSqlParser } from './classify.js';
import { declaredCursorName, resultLineage } from './lineage.js';

const writes = (sql: string): boolean[] => resultLineage(sql).map((s) => s.kind !== 'none' && s.writes === true);

describe('lineage writes flag', () => {
  before(async () => { await loadSqlParser(); });

  it('marks RETURNING, data-modifying CTEs, EXECUTE and unparseable text', () => {
    assert.deepEqual(writes('update t set a = c.b from c returning a'), [true]);
    assert.deepEqual(writes('insert into t select * from c returning *'), [true]);
    assert.deepEqual(writes('with u as (delete from t returning a) select a from u'), [true]);
    assert.deepEqual(writes('execute p(1)'), [true]);
    assert.deepEqual(writes('select frm where'), [true]);
  });

  it('leaves reads unmarked, whatever their names say', () => {
    assert.deepEqual(writes('select updated, "insert" from t; fetch 1 from c; select 1'), [false, false, false]);
  });

  it('DECLARE carries its cursor\'s lineage, FETCH names the cursor it reads', () => {
    const [decl, fetch, move] = resultLineage('declare c cursor for select lower(email) as e from customers; fetch 10 from c; move 1 in c');
    assert.equal(decl?.kind, 'none');
    assert.ok(decl?.kind === 'none' && decl.cursor?.name === 'c');
    assert.deepEqual(decl.kind === 'none' && decl.cursor?.lineage.kind === 'rows' ? decl.cursor.lineage.columns[0]?.sources : undefined, [{ table: 'customers', column: 'email' }]);
    assert.ok(fetch?.kind === 'unknown' && fetch.cursor === 'c');
    assert.equal(move?.kind, 'none');
    assert.equal(declaredCursorName('select 1; declare "Q" cursor for select 1', 1), 'Q');
    assert.equal(declaredCursorName('select 1', 0), undefined);
  });
});
