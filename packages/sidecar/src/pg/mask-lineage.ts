// The parse-tree lineage masking relies on (core/sql/lineage.ts): which source columns feed each
// result column. The seam the planner calls through, and the core analyser behind it.
import type { LineageAnalyzer } from '@chaperone/core/sql/lineage-cache';
import type { LineageCatalog } from '@chaperone/core/sql/lineage';
import type { StatementLineage } from '@chaperone/core/sql/lineage-types';
import type { Catalog, Relation } from './catalog.js';
import type { Needs } from './mask-plan.js';

export type { ResultColumnLineage, SourceColumn, StatementLineage } from '@chaperone/core/sql/lineage-types';

/** Lineage of each statement of a text, or the catalog look-ups it needs first. */
export type LineageFn = (sql: string) => readonly StatementLineage[] | Needs;

/** Makes a proxy's lineage function over its catalog. */
export interface LineageSource { forCatalog(catalog: Catalog): LineageFn }

/** Without an analyser every statement is untraceable: results with computed columns are refused. */
export const NO_LINEAGE: LineageSource = {
  forCatalog: () => (sql) => [{ kind: 'unknown', reason: `no lineage analyser for: ${sql.slice(0, 40)}` }],
};

/**
 * The core analyser (cached by statement shape) over the proxy's catalog: stars, unqualified
 * columns and views are answered from cached catalog answers; a miss is reported as Needs, and
 * once loaded the catalog's epoch moves, so the next call analyses again with a fresh catalog view.
 */
export function coreLineage(analyzer: LineageAnalyzer): LineageSource {
  return {
    forCatalog(catalog) {
      let epoch = -1;
      let view: LineageCatalog | undefined;
      let misses: Needs | null = null;
      const pick = (schema: string | undefined, table: string): Relation | undefined => {
        const rels = catalog.cachedName(schema, table);
        if (rels === undefined) {
          (misses ??= { oids: [], names: [] }).names.push({ schema, name: table });
          return undefined;
        }
        return rels.find((r) => r.schema === 'public') ?? rels[0];
      };
      const fresh = (): LineageCatalog => ({
        columns: (schema, table) => { const r = pick(schema, table); return r ? [...r.columns.values()] : undefined; },
        viewDefinition: (schema, table) => { const r = pick(schema, table); return r && (r.kind === 'v' || r.kind === 'm') ? r.definition : undefined; },
        // From pg_proc (catalog-functions.ts); until loaded, a miss (the answer then is discarded).
        functionIsPure: (schema, name) => {
          const pure = catalog.cachedFunctionIsPure(schema, name);
          if (pure === undefined) ((misses ??= { oids: [], names: [] }).functions ??= []).push(name);
          return pure;
        },
      });
      return (sql) => {
        if (view === undefined || epoch !== catalog.epoch) { view = fresh(); epoch = catalog.epoch; }
        misses = null;
        const result = analyzer.lineage(sql, view);
        const missing = misses as Needs | null;
        if (missing === null) return result;
        // The analyser cached this incomplete answer under `view`: drop the view, so the next
        // call (another column of the same result, before the catalog answered) does not take it.
        view = undefined;
        return missing;
      };
    },
  };
}
