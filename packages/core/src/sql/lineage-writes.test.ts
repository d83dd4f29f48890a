// resultLineage's `writes` flag: rows that come from a data-modifying statement (whose column
// origins the server reports as the written table's) are marked, and nothing else is.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loadSqlParser } from './classify.js';
import { resultLineage } from './lineage.js';

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
});
