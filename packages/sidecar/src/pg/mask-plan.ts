// Decides, per result, what each column gets: a column rule's mask (direct table columns through
// the catalog, views through their definition's lineage, expressions through the statement's
// parse-tree lineage), detectors on every text value, or a refusal when masking cannot be done
// safely (fail closed). Resolution runs on cached catalog answers; on a miss it says what to load.
import type { Catalog, Relation } from './catalog.js';
import { Enc, encodingOf } from './mask-rows.js';
import type { ColumnMask, DetectFn, RowPlan } from './mask-rows.js';
import type { LineageFn, ResultColumnLineage, StatementLineage } from './mask-lineage.js';

/** A column rule's masks: as is for a column passed through unchanged, and for a derived value. */
export interface RuleMask {
  readonly rule: string;
  /** Larger wins when several rules feed one output: null > redact > hash > partial. */
  readonly strength: number;
  readonly direct: ColumnMask;
  /** For values computed from the column (partial cannot tell which characters came from it: redact). */
  readonly derived: ColumnMask;
}

/** What masking needs from the connection's compiled mask rules (mask-rules.ts builds it). */
export interface MaskPolicy {
  readonly hasColumnRules: boolean;
  column(schema: string, table: string, column: string): RuleMask | undefined;
  readonly detect: DetectFn | undefined;
}

/** One RowDescription field, as far as masking cares. */
export interface Field { tableOid: number; attnum: number; typeOid: number; format: number }

export type Resolution = { ok: true; plan: RowPlan | null } | { ok: false; reason: string };

/** Catalog look-ups a resolution is missing; load them and resolve again. */
export interface Needs { oids: number[]; names: { schema: string | undefined; name: string }[]; functions?: string[] }

/** Parses RowDescription `buf[start..end)`; undefined when malformed. */
export function parseRowDescription(buf: Buffer, start: number, end: number): Field[] | undefined {
  if (end - start < 7) return undefined;
  const n = buf.readInt16BE(start + 5);
  const fields: Field[] = [];
  let pos = start + 7;
  for (let i = 0; i < n; i++) {
    const nul = buf.indexOf(0, pos);
    if (nul < 0 || nul + 19 > end) return undefined;
    pos = nul + 1;
    fields.push({ tableOid: buf.readUInt32BE(pos), attnum: buf.readInt16BE(pos + 4), typeOid: buf.readUInt32BE(pos + 6), format: buf.readInt16BE(pos + 16) });
    pos += 18;
  }
  return pos === end ? fields : undefined;
}

/**
 * Text that may run a data-modifying statement (INSERT/UPDATE/DELETE/MERGE, or EXECUTE of one): a
 * superset test on the letters (keywords cannot be quoted or split), so text it rejects surely
 * writes nothing and its table-attributed columns can be taken as the server reports them.
 */
const MAY_WRITE = /insert|update|delete|merge|execute/i;

/**
 * Whether the server's column origins may not be the whole truth for this text: RETURNING reports
 * the written table's column even when the value written came from another table, so the plan
 * then depends on the statement text (the lineage), not on the RowDescription alone.
 */
export function mayWrite(text: string | undefined): boolean {
  return text !== undefined && MAY_WRITE.test(text);
}

/** Where a session's open cursors were declared: the statement text and its index in it. */
export type CursorLookup = (name: string) => { text: string; index: number } | undefined;

/** Text that may FETCH: its plan depends on which query the cursor runs, so it is never cached. */
export function mayFetch(text: string | undefined): boolean {
  return text !== undefined && /fetch/i.test(text);
}

/** Refusal, or the strongest mask of what feeds one output column. */
type Found = { refuse: string } | RuleMask | undefined;

class Miss { constructor(readonly needs: Needs) {} }

const MAX_VIEW_DEPTH = 8;

export class MaskPlanner {
  constructor(
    private readonly policy: MaskPolicy,
    private readonly catalog: Catalog,
    private readonly lineageFn: LineageFn,
  ) {}

  private lineage(sql: string): readonly StatementLineage[] {
    const r = this.lineageFn(sql);
    if ('oids' in r) throw new Miss(r);
    return r;
  }

  get hasColumnRules(): boolean { return this.policy.hasColumnRules; }
  get detect(): DetectFn | undefined { return this.policy.detect; }

  /**
   * The plan for a result described by `fields`, of statement `index` of `text` (for columns the
   * server does not attribute to a table); a Needs when the catalog must be asked first.
   */
  resolveFields(fields: readonly Field[], text: string | undefined, index: number, cursors?: CursorLookup): Resolution | Needs {
    const enc = fields.map((f) => encodingOf(f.typeOid, f.format));
    if (!this.policy.hasColumnRules) return { ok: true, plan: this.policy.detect ? { columns: [], enc, detect: this.policy.detect } : null };
    const needs: Needs = { oids: [], names: [] };
    const columns: (ColumnMask | undefined)[] = [];
    let any = false;
    let stmt: StatementLineage | undefined;
    // Rows of a data-modifying statement: every column through the lineage too (mayWrite).
    const writing = mayWrite(text);
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i] as Field;
      let found: Found;
      try {
        if (f.tableOid !== 0) {
          found = this.tableColumn(f.tableOid, f.attnum, 0);
          if (writing && !(found && 'refuse' in found)) {
            stmt ??= this.statementAt(text as string, index, cursors);
            if (stmt === undefined || stmt.kind === 'none' || stmt.writes === true) {
              const traced = this.fromLineage(stmt, i, fields.length, 0);
              found = traced && 'refuse' in traced ? traced : stronger(found, traced);
            }
          }
        } else {
          if (text === undefined) return { ok: false, reason: 'a computed result column of a statement the proxy cannot see' };
          stmt ??= this.statementAt(text, index, cursors);
          found = this.fromLineage(stmt, i, fields.length, 0);
        }
      } catch (err) {
        if (!(err instanceof Miss)) throw err;
        needs.oids.push(...err.needs.oids); needs.names.push(...err.needs.names);
        if (err.needs.functions) (needs.functions ??= []).push(...err.needs.functions);
        continue;
      }
      if (found && 'refuse' in found) return { ok: false, reason: found.refuse };
      // A written column holds what was assigned to it: as derived as the lineage says.
      const asReported = f.tableOid !== 0 && !(writing && (stmt?.kind !== 'rows' || stmt.writes === true));
      if (found) { any = true; columns[i] = asReported || isDirect(stmt, i) ? found.direct : found.derived; }
    }
    if (needs.oids.length + needs.names.length + (needs.functions?.length ?? 0) > 0) return needs;
    if (!any && !this.policy.detect) return { ok: true, plan: null };
    return { ok: true, plan: { columns, enc, detect: this.policy.detect } };
  }

  /** Statement `index` of `text`; a FETCH from a cursor the session saw declared: that cursor's query. */
  private statementAt(text: string, index: number, cursors: CursorLookup | undefined): StatementLineage | undefined {
    const st = this.lineage(text)[index];
    if (st?.kind !== 'unknown' || st.cursor === undefined || cursors === undefined) return st;
    const decl = cursors(st.cursor);
    if (decl === undefined) return st;
    const d = this.lineage(decl.text)[decl.index];
    return d?.kind === 'none' && d.cursor?.name === st.cursor ? d.cursor.lineage : st;
  }

  /** Detectors only, for rows whose description was never seen (format codes from Bind). */
  resolveFieldsFormatsOnly(formats: readonly number[]): RowPlan | null {
    const detect = this.policy.detect;
    return detect ? { columns: [], enc: formats.map((f) => (f === 0 ? Enc.Text : Enc.BinOther)), detect } : null;
  }

  /** The plan for COPY … TO STDOUT in text or CSV format: `count` columns, from the statement's lineage. */
  resolveCopy(text: string | undefined, index: number, count: number): Resolution | Needs {
    const fields: Field[] = Array.from({ length: count }, () => ({ tableOid: 0, attnum: 0, typeOid: 25, format: 0 }));
    return this.resolveFields(fields, text, index);
  }

  private fromLineage(stmt: StatementLineage | undefined, i: number, count: number, depth: number): Found {
    if (stmt === undefined) return { refuse: 'the statement could not be analysed' };
    if (stmt.kind === 'unknown') return { refuse: `result columns cannot be traced to their sources (${stmt.reason})` };
    if (stmt.kind === 'none') return { refuse: 'the statement was not expected to return rows' };
    if (stmt.columns.length !== count) return { refuse: 'result columns do not match the statement\'s analysis' };
    const col = stmt.columns[i] as ResultColumnLineage;
    if (col.unknown !== undefined) return { refuse: `a result column cannot be traced to its sources (${col.unknown})` };
    return this.fromColumn(col, depth);
  }

  private fromColumn(col: ResultColumnLineage, depth: number): Found {
    let best: RuleMask | undefined;
    for (const s of col.sources) {
      const f = this.namedColumn(s.schema, s.table, s.column, depth);
      if (f && 'refuse' in f) return f;
      best = stronger(best, f);
    }
    for (const w of col.wholeRows) {
      for (const rel of this.relationsNamed(w.schema, w.table)) {
        for (const attnum of rel.columns.keys()) {
          const f = this.relationColumn(rel, attnum, depth);
          if (f && 'refuse' in f) return f;
          best = stronger(best, f);
        }
      }
    }
    return best;
  }

  private tableColumn(oid: number, attnum: number, depth: number): Found {
    const rel = this.catalog.cachedOid(oid);
    if (rel === undefined) throw new Miss({ oids: [oid], names: [] });
    if (rel === null) return { refuse: `table ${oid} of a result column is not in the catalog` };
    return this.relationColumn(rel, attnum, depth);
  }

  private relationColumn(rel: Relation, attnum: number, depth: number): Found {
    const name = rel.columns.get(attnum);
    if (name === undefined) return { refuse: `column ${attnum} of ${rel.schema}.${rel.name} is not in the catalog` };
    if (rel.kind !== 'v' && rel.kind !== 'm') return this.policy.column(rel.schema, rel.name, name);
    // A view's column: what feeds it in the view's definition (its columns are the definition's outputs).
    const direct = this.policy.column(rel.schema, rel.name, name);
    if (depth >= MAX_VIEW_DEPTH) return { refuse: `views nested deeper than ${MAX_VIEW_DEPTH}` };
    if (rel.definition === undefined) return { refuse: `the definition of view ${rel.schema}.${rel.name} is not readable` };
    const stmt = this.lineage(rel.definition)[0];
    const found = this.fromLineage(stmt, attnum - 1, maxAttnum(rel), depth + 1);
    if (found && 'refuse' in found) return found;
    // A view column computed from a masked column is a derived value wherever it is read.
    const viaView = found && !isDirect(stmt, attnum - 1) ? { ...found, direct: found.derived } : found;
    return stronger(direct, viaView);
  }

  private namedColumn(schema: string | undefined, table: string, column: string, depth: number): Found {
    const rels = this.relationsNamed(schema, table);
    // Not in the catalog (a temporary or uncommitted table): the rules still apply by name.
    if (rels.length === 0) return this.policy.column(schema ?? 'public', table, column);
    let best: RuleMask | undefined;
    // Unqualified: every schema's relation of that name counts (the agent's search_path is not known here).
    for (const rel of rels) {
      let attnum: number | undefined;
      for (const [n, c] of rel.columns) if (c === column) attnum = n;
      const f = attnum === undefined ? this.policy.column(rel.schema, rel.name, column) : this.relationColumn(rel, attnum, depth);
      if (f && 'refuse' in f) return f;
      best = stronger(best, f);
    }
    return best;
  }

  private relationsNamed(schema: string | undefined, name: string): Relation[] {
    const rels = this.catalog.cachedName(schema, name);
    if (rels === undefined) throw new Miss({ oids: [], names: [{ schema, name }] });
    return rels;
  }
}

function maxAttnum(rel: Relation): number {
  let m = 0;
  for (const n of rel.columns.keys()) if (n > m) m = n;
  return m;
}

function isDirect(stmt: StatementLineage | undefined, i: number): boolean {
  return stmt?.kind === 'rows' && stmt.columns[i]?.direct === true;
}

function stronger(a: RuleMask | undefined, b: Found): RuleMask | undefined {
  if (b === undefined || 'refuse' in b) return a;
  return a === undefined || b.strength > a.strength ? b : a;
}

/** Loads what a resolution missed; rejects when the catalog cannot be asked. */
export async function loadNeeds(catalog: Catalog, needs: Needs): Promise<void> {
  if (needs.oids.length > 0) await catalog.relations(needs.oids);
  for (const n of needs.names) await catalog.named(n.schema, n.name);
  if (needs.functions !== undefined && needs.functions.length > 0) await catalog.functions(needs.functions);
}

/** Resolves, loading from the catalog as needed (views may reveal further names: a few rounds). */
export async function resolveWithCatalog(catalog: Catalog, attempt: () => Resolution | Needs): Promise<Resolution> {
  for (let round = 0; round < 2 * MAX_VIEW_DEPTH + 2; round++) {
    const r = attempt();
    if ('ok' in r) return r;
    await loadNeeds(catalog, r);
  }
  return { ok: false, reason: 'the catalog did not settle (schema changing while resolving)' };
}

export { Enc };
