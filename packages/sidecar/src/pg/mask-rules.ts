// Adapts a connection's compiled mask rules (core/mask) to what the PostgreSQL masker asks: the
// rule for a source column (memoised by name), the masks it applies to a value as is and to a
// derived value, and one detector pass running every detector rule over a text value.
import { detectorMask, findSensitive, findSensitiveByMask, mayContainSensitive } from '@chaperone/core/mask/detectors';
import type { DetectorName } from '@chaperone/core/mask/detectors';
import { columnRule } from '@chaperone/core/mask/rules';
import type { CompiledMasks, MaskRule } from '@chaperone/core/mask/rules';
import { DEFAULT_KEEP, maskSpans, maskValue } from '@chaperone/core/mask/strategy';
import type { MaskPolicy, RuleMask } from './mask-plan.js';
import type { ColumnMask, DetectFn, DetectorCount } from './mask-rows.js';

/** Several rules feeding one output: the one that reveals least wins. */
const STRENGTH = { partial: 1, hash: 2, redact: 3, null: 4 } as const;

/** Bound on memoised column names (a schema has finitely many; this only guards odd clients). */
const MAX_MEMO = 10_000;

export function maskPolicyOf(m: CompiledMasks): MaskPolicy {
  const masks = new Map<MaskRule, RuleMask>();
  const memo = new Map<string, RuleMask | null>();
  const ruleMask = (r: MaskRule): RuleMask => {
    let rm = masks.get(r);
    if (rm === undefined) { rm = buildRuleMask(r); masks.set(r, rm); }
    return rm;
  };
  return {
    hasColumnRules: m.columnRules.length > 0,
    column(schema, table, column) {
      const key = `${schema}\0${table}\0${column}`;
      let found = memo.get(key);
      if (found === undefined) {
        const r = columnRule(m, schema, table, column);
        found = r === undefined ? null : ruleMask(r);
        if (memo.size >= MAX_MEMO) memo.clear();
        memo.set(key, found);
      }
      return found ?? undefined;
    },
    detect: m.detectorRules.length > 0 ? detectorPass(m.detectorRules) : undefined,
  };
}

function buildRuleMask(r: MaskRule): RuleMask {
  const spec = r.spec;
  const detectors = r.detectors;
  let direct: ColumnMask;
  if (detectors !== undefined) {
    // columns + detectors: only the detected spans inside the column's values.
    direct = {
      rule: r.rule,
      text(v) {
        if (!mayContainSensitive(v, detectors)) return v;
        const hits = findSensitive(v, detectors);
        return hits.length === 0 ? v : maskSpans(v, hits, spec);
      },
    };
  } else {
    const constant = spec.strategy === 'redact' ? maskValue('', spec) : spec.strategy === 'null' ? null : undefined;
    direct = constant !== undefined ? { rule: r.rule, text: (v) => maskValue(v, spec), constant }
      : spec.strategy === 'partial' ? { rule: r.rule, text: (v) => maskValue(v, spec), partialKeep: spec.keep ?? DEFAULT_KEEP }
        : { rule: r.rule, text: (v) => maskValue(v, spec) };
  }
  // Which characters of a computed value came from the column is unknown: `partial` redacts it whole.
  const derived: ColumnMask = spec.strategy === 'partial' && detectors === undefined
    ? { rule: r.rule, text: (v) => maskValue(v, { ...spec, strategy: 'redact' }), constant: maskValue('', { ...spec, strategy: 'redact' }) }
    : direct;
  return { rule: r.rule, strength: STRENGTH[spec.strategy], direct, derived };
}

function detectorPass(rules: readonly MaskRule[]): DetectFn {
  const passes = rules.filter((r) => r.detectors !== undefined).map((r) => ({ r, mask: detectorMask(r.detectors as ReadonlySet<DetectorName>) }));
  return (value) => {
    let text = value;
    let hits: DetectorCount[] | undefined;
    for (const { r, mask } of passes) {
      // findSensitive runs its own pre-check (mayContainSensitive would run it twice).
      const found = findSensitiveByMask(text, mask);
      if (found.length === 0) continue;
      text = maskSpans(text, found, r.spec);
      for (const h of found) (hits ??= []).push({ rule: r.rule, detector: h.detector });
    }
    return hits === undefined ? undefined : { text, hits };
  };
}
