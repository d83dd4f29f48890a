// Masks Secret values in the JSON the API server returns for the `secrets` resource, in every
// shape kubectl and clients ask for: one object, a list, a Table (rows' `object`), a watch event.
// Pure and synchronous; counts what it masked per rule.

/** How one value is replaced (a mask rule's strategy); null only for the `null` strategy. */
export interface ValueMask {
  /** Rule name, for counts in records. */
  rule: string;
  mask(value: string): string | null;
}

export type MaskCounts = Record<string, number>;

/** kubectl apply keeps the whole applied object, data included, in this annotation. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function count(counts: MaskCounts, rule: string, n: number): void {
  if (n > 0) counts[rule] = (counts[rule] ?? 0) + n;
}

/**
 * A response body of the secrets resource, parsed: an object, a list (`items`), a Table
 * (`rows[].object`) or a Status (left alone). Changes `body` in place.
 */
export function maskSecretsBody(body: unknown, m: ValueMask, counts: MaskCounts): void {
  if (!isObject(body)) return;
  if (body.kind === 'Status') return;
  if (body.kind === 'Table') {
    for (const row of Array.isArray(body.rows) ? body.rows : []) {
      if (isObject(row)) maskSecret(row.object, m, counts);
    }
    return;
  }
  if (Array.isArray(body.items)) {
    for (const item of body.items) maskSecret(item, m, counts);
    return;
  }
  maskSecret(body, m, counts);
}

/** One watch event (`{type, object}`); the object may itself be a Table (watch with as=Table). */
export function maskSecretsWatchEvent(event: unknown, m: ValueMask, counts: MaskCounts): void {
  if (isObject(event)) maskSecretsBody(event.object, m, counts);
}

/**
 * `data` values are base64 of the bytes: the masked form is base64 too, so typed clients
 * (client-go's []byte) still decode the object. `stringData` values are plain strings.
 */
export function maskSecret(secret: unknown, m: ValueMask, counts: MaskCounts): void {
  if (!isObject(secret)) return;
  let n = 0;
  if (isObject(secret.data)) {
    const data = secret.data;
    for (const k of Object.keys(data)) {
      const v = data[k];
      if (typeof v !== 'string') continue;
      const plain = Buffer.from(v, 'base64').toString('utf8');
      const masked = m.mask(plain);
      if (masked === plain) continue;
      data[k] = masked === null ? null : Buffer.from(masked, 'utf8').toString('base64');
      n++;
    }
  }
  if (isObject(secret.stringData)) {
    const data = secret.stringData;
    for (const k of Object.keys(data)) {
      const v = data[k];
      if (typeof v !== 'string') continue;
      const masked = m.mask(v);
      if (masked === v) continue;
      data[k] = masked;
      n++;
    }
  }
  count(counts, m.rule, n);
  const meta = secret.metadata;
  const annotations = isObject(meta) && isObject(meta.annotations) ? meta.annotations : undefined;
  const applied = annotations?.[LAST_APPLIED];
  if (annotations && typeof applied === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(applied);
    } catch {
      parsed = undefined;
    }
    if (isObject(parsed)) {
      maskSecret(parsed, m, counts);
      annotations[LAST_APPLIED] = JSON.stringify(parsed) + '\n';
    } else {
      // Not JSON we can read: it may hold anything, so none of it passes.
      const masked = m.mask(applied);
      if (masked !== applied) {
        annotations[LAST_APPLIED] = masked ?? '';
        count(counts, m.rule, 1);
      }
    }
  }
}
