// Migrations against a real PostgreSQL: versioned, idempotent, safe for concurrent replicas.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { startTestPostgres, type TestPostgres } from '../testing/embedded.js';
import { latestVersion, migrate, MIGRATIONS, schemaVersion } from './migrations.js';

let pg: TestPostgres;
before(async () => { pg = await startTestPostgres(); });
after(async () => { await pg?.cleanup(); });

test('migrations are numbered 1..n in order', () => {
  MIGRATIONS.forEach((m, i) => assert.equal(m.version, i + 1, m.name));
  assert.equal(latestVersion(), MIGRATIONS.length);
});

test('a fresh database is migrated once; running again applies nothing', async () => {
  const sql = postgres(pg.url, { onnotice: () => undefined });
  try {
    await sql`CREATE DATABASE fresh_once`;
    const db = postgres(pg.url.replace(/\/postgres$/, '/fresh_once'), { onnotice: () => undefined });
    try {
      assert.equal(await schemaVersion(db), 0);
      assert.deepEqual(await migrate(db), MIGRATIONS.map((m) => m.version));
      assert.deepEqual(await migrate(db), []);
      assert.equal(await schemaVersion(db), latestVersion());
      const tables = await db<{ table_name: string }[]>`
        SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`;
      assert.deepEqual(tables.map((t) => t.table_name), ['approvals', 'record_runs', 'records', 'schema_migrations', 'sessions', 'signing_keys']);
    } finally {
      await db.end();
    }
  } finally {
    await sql.end();
  }
});

test('record runs are lz4-compressed where the server has lz4, pglz where it has not', async () => {
  const admin = postgres(pg.url, { onnotice: () => undefined });
  await admin`CREATE DATABASE compression`;
  await admin.end();
  const db = postgres(pg.url.replace(/\/postgres$/, '/compression'), { max: 1, onnotice: () => undefined });
  try {
    await migrate(db);
    const hasLz4 = await db`SET default_toast_compression = lz4`.then(() => true, () => false);
    const [column] = await db<{ compression: string }[]>`
      SELECT attcompression AS compression FROM pg_attribute WHERE attrelid = 'record_runs'::regclass AND attname = 'records'`;
    // '' is the server's default_toast_compression, pglz unless configured otherwise.
    assert.equal(column?.compression, hasLz4 ? 'l' : '');
  } finally {
    await db.end();
  }
});

test('concurrent replicas apply each migration exactly once', async () => {
  const admin = postgres(pg.url, { onnotice: () => undefined });
  await admin`CREATE DATABASE racing`;
  await admin.end();
  const url = pg.url.replace(/\/postgres$/, '/racing');
  const a = postgres(url, { onnotice: () => undefined });
  const b = postgres(url, { onnotice: () => undefined });
  try {
    const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
    assert.deepEqual([...ra, ...rb].sort(), MIGRATIONS.map((m) => m.version));
    const rows = await a<{ version: number }[]>`SELECT version FROM schema_migrations ORDER BY version`;
    assert.deepEqual(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
});

test('a later version is applied on top of the existing schema', async () => {
  const admin = postgres(pg.url, { onnotice: () => undefined });
  await admin`CREATE DATABASE upgrade`;
  await admin.end();
  const db = postgres(pg.url.replace(/\/postgres$/, '/upgrade'), { onnotice: () => undefined });
  try {
    await migrate(db);
    const next = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'probe', sql: 'CREATE TABLE probe (x int)' }];
    assert.deepEqual(await migrate(db, next), [MIGRATIONS.length + 1]);
    assert.equal(await schemaVersion(db), MIGRATIONS.length + 1);
    await assert.rejects(migrate(db, [{ version: 2, name: 'out-of-order', sql: '' }]), /expected 1/);
  } finally {
    await db.end();
  }
});
