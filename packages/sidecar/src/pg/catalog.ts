// Catalog look-ups for masking: table OID → (schema, name, relkind, columns by attnum, a view's
// definition), and relation name → the same. Asked over one side connection to the proxy's target
// with the proxy's credential (auth.ts connectUpstream), answers cached per proxy target, dropped
// when a DDL statement passes through the proxy (invalidate) and at the latest after a TTL.
import { decodeErrorFields, Framer } from './codec.js';
import { connectUpstream } from './auth.js';
import type { Upstream, UpstreamCredential, UpstreamTarget } from './auth.js';
import { encodeQuery, TERMINATE } from './encode.js';
import { B } from './messages.js';
import { callIsPure, functionsQuery, parseFunctionRow } from './catalog-functions.js';
import type { FunctionRow } from './catalog-functions.js';

export interface Relation {
  oid: number;
  schema: string;
  name: string;
  /** pg_class.relkind: r table, p partitioned, v view, m materialized view, f foreign, ... */
  kind: string;
  /** Column name by attribute number (dropped columns left out). */
  columns: ReadonlyMap<number, string>;
  /** Views and materialized views: pg_get_viewdef's text. */
  definition?: string;
}

export interface CatalogSource {
  target: UpstreamTarget;
  credential: UpstreamCredential;
}

/** Default bound on how long a cached answer is used when no DDL was seen through the proxy. */
export const CATALOG_TTL_MS = 30_000;

const RELATION_JSON = `json_build_object('oid', c.oid, 'schema', n.nspname, 'name', c.relname, 'kind', c.relkind,
  'def', CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END,
  'cols', (SELECT json_agg(json_build_array(a.attnum, a.attname) ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`;

/** A name inside SQL without any quoting to get wrong: hex, decoded by the server. */
function literal(s: string): string {
  return `pg_catalog.convert_from(pg_catalog.decode('${Buffer.from(s, 'utf8').toString('hex')}', 'hex'), 'UTF8')`;
}

export class Catalog {
  private byOidCache = new Map<number, Relation | null>();
  private byNameCache = new Map<string, Relation[]>();
  /** pg_proc rows by function name (catalog-functions.ts judges them). */
  private functionCache = new Map<string, FunctionRow[]>();
  private loadedAt = 0;
  /** Bumped on every invalidation: plans built from older answers are stale. */
  generation = 0;
  /** Bumped whenever answers are added or dropped (lineage analyses made without them are redone). */
  epoch = 0;
  private conn: SideConnection | null = null;

  constructor(private readonly source: () => CatalogSource, private readonly ttlMs = CATALOG_TTL_MS) {}

  /** Forget everything (a DDL statement went through, or the target changed). */
  invalidate(): void {
    this.byOidCache = new Map();
    this.byNameCache = new Map();
    this.functionCache = new Map();
    this.generation++;
    this.epoch++;
  }

  /** Drops answers older than the TTL; true when that happened. */
  expire(now = Date.now()): boolean {
    if (this.byOidCache.size + this.byNameCache.size + this.functionCache.size === 0) { this.loadedAt = now; return false; }
    if (now - this.loadedAt <= this.ttlMs) return false;
    this.loadedAt = now;
    this.invalidate();
    return true;
  }

  cachedOid(oid: number): Relation | null | undefined { return this.byOidCache.get(oid); }

  /** Puts a relation in the cache as if the server had answered (unit tests and benchmarks). */
  seed(rel: Relation): void {
    this.noteFirstAnswer();
    this.byOidCache.set(rel.oid, rel);
    const rels = this.byNameCache.get(`${rel.schema}.${rel.name}`) ?? [];
    this.byNameCache.set(`${rel.schema}.${rel.name}`, [...rels.filter((r) => r.oid !== rel.oid), rel]);
    const bare = this.byNameCache.get(`.${rel.name}`) ?? [];
    this.byNameCache.set(`.${rel.name}`, [...bare.filter((r) => r.oid !== rel.oid), rel]);
    this.epoch++;
  }
  cachedName(schema: string | undefined, name: string): Relation[] | undefined { return this.byNameCache.get(`${schema ?? ''}.${name}`); }

  /** Relations by OID; null for an OID the catalog does not show (dropped, or not committed yet). */
  async relations(oids: readonly number[]): Promise<void> {
    const missing = [...new Set(oids)].filter((o) => !this.byOidCache.has(o));
    if (missing.length === 0) return;
    const gen = this.generation;
    const rows = await this.query(`SELECT ${RELATION_JSON} WHERE c.oid IN (${missing.map((o) => String(o >>> 0)).join(',')})`);
    if (gen !== this.generation) return;
    this.noteFirstAnswer();
    for (const o of missing) this.byOidCache.set(o, null);
    for (const r of rows) { const rel = parseRelation(r); if (rel) this.byOidCache.set(rel.oid, rel); }
    this.epoch++;
  }

  /** Relations by name (unqualified: in every schema, the caller decides conservatively). */
  async named(schema: string | undefined, name: string): Promise<void> {
    const key = `${schema ?? ''}.${name}`;
    if (this.byNameCache.has(key)) return;
    const gen = this.generation;
    const where = `c.relname = ${literal(name)}${schema === undefined ? '' : ` AND n.nspname = ${literal(schema)}`}`;
    const rows = await this.query(`SELECT ${RELATION_JSON} WHERE ${where} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`);
    if (gen !== this.generation) return;
    this.noteFirstAnswer();
    const rels: Relation[] = [];
    for (const r of rows) { const rel = parseRelation(r); if (rel) { rels.push(rel); this.byOidCache.set(rel.oid, rel); } }
    this.byNameCache.set(key, rels);
    this.epoch++;
  }

  /** Whether a call of `schema.name` (schema undefined: unqualified) is pure; undefined when not loaded. */
  cachedFunctionIsPure(schema: string | undefined, name: string): boolean | undefined {
    const rows = this.functionCache.get(name);
    return rows === undefined ? undefined : callIsPure(rows, schema);
  }

  /** Loads the pg_proc rows of functions by name, in one query. */
  async functions(names: readonly string[]): Promise<void> {
    const missing = [...new Set(names)].filter((n) => !this.functionCache.has(n));
    if (missing.length === 0) return;
    const gen = this.generation;
    const rows = await this.query(functionsQuery(missing.map(literal)));
    if (gen !== this.generation) return;
    this.noteFirstAnswer();
    const byName = new Map<string, FunctionRow[]>(missing.map((n) => [n, []]));
    for (const r of rows) { const f = parseFunctionRow(r); if (f) byName.get(f.name)?.push(f); }
    for (const [n, fs] of byName) this.functionCache.set(n, fs);
    this.epoch++;
  }

  /** The TTL runs from the first answer cached after the cache was last emptied. */
  private noteFirstAnswer(): void {
    if (this.byOidCache.size + this.byNameCache.size + this.functionCache.size === 0) this.loadedAt = Date.now();
  }

  close(): void {
    this.conn?.close();
    this.conn = null;
  }

  private async query(sql: string): Promise<string[]> {
    for (let attempt = 0; ; attempt++) {
      this.conn ??= new SideConnection(this.source());
      const conn = this.conn;
      try {
        return await conn.query(sql);
      } catch (err) {
        if (this.conn === conn) { conn.close(); this.conn = null; }
        // One retry on a fresh connection (the old one may have timed out); then fail.
        if (attempt > 0 || !(err instanceof ConnectionLost)) throw err;
      }
    }
  }
}

class ConnectionLost extends Error {}

function parseRelation(json: string): Relation | null {
  try {
    const o = JSON.parse(json) as { oid: number | string; schema: string; name: string; kind: string; def: string | null; cols: [number, string][] | null };
    const rel: Relation = { oid: Number(o.oid), schema: o.schema, name: o.name, kind: o.kind, columns: new Map(o.cols ?? []) };
    if (typeof o.def === 'string') rel.definition = o.def;
    return rel;
  } catch {
    return null;
  }
}

/** One upstream connection running simple queries one at a time; results are first-column texts. */
class SideConnection {
  private readonly ready: Promise<Upstream>;
  private chain: Promise<unknown> = Promise.resolve();
  private upstream: Upstream | null = null;
  private closed = false;

  constructor(source: CatalogSource) {
    this.ready = connectUpstream({ target: source.target, credential: source.credential, params: { application_name: 'chaperone-catalog' } })
      .then((r) => {
        if (!r.ok) throw new Error(`catalog connection failed: ${r.fields.M ?? r.fields.C ?? 'error'}`);
        this.upstream = r.upstream;
        if (this.closed) r.upstream.socket.destroy();
        r.upstream.socket.on('error', () => undefined);
        return r.upstream;
      });
    this.ready.catch(() => undefined);
  }

  query(sql: string): Promise<string[]> {
    const run = this.chain.then(() => this.run(sql));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async run(sql: string): Promise<string[]> {
    const up = await this.ready;
    const socket = up.socket;
    if (socket.destroyed) throw new ConnectionLost('catalog connection closed');
    return await new Promise<string[]>((resolve, reject) => {
      const rows: string[] = [];
      let error: string | null = null;
      const framer = new Framer({ startup: false });
      const done = (f: () => void): void => { socket.off('data', onData); socket.off('close', onClose); f(); };
      const onData = (chunk: Buffer): void => {
        const bad = framer.push(chunk, (type, frame) => {
          if (type === B.DataRow) {
            const len = frame.readInt32BE(7);
            rows.push(len < 0 ? '' : frame.toString('utf8', 11, 11 + len));
          } else if (type === B.ErrorResponse) {
            const fields = decodeErrorFields(frame);
            error = fields?.M ?? 'catalog query failed';
          } else if (type === B.ReadyForQuery) {
            done(() => { if (error === null) resolve(rows); else reject(new Error(error)); });
          }
        });
        if (bad) { socket.destroy(); done(() => reject(new ConnectionLost(bad.message))); }
      };
      const onClose = (): void => done(() => reject(new ConnectionLost('catalog connection closed')));
      socket.on('data', onData);
      socket.on('close', onClose);
      socket.resume();
      socket.write(encodeQuery(sql));
    });
  }

  close(): void {
    this.closed = true;
    const s = this.upstream?.socket;
    if (s && !s.destroyed) s.end(TERMINATE);
  }
}
