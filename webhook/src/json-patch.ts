// JSON Patch (RFC 6902) operations and the pointer escaping (RFC 6901) their paths need.

export type JsonPatchOp =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** RFC 6901 §3: `~` is written `~0` and `/` is written `~1` inside a reference token. */
export function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * Appends `items` to the array at `path`: one `add …/-` each when the array exists, else one
 * `add` creating it. Never a `replace` of the whole array, which would drop what others put there.
 */
export function appendAll(path: string, existing: readonly unknown[] | undefined, items: readonly unknown[]): JsonPatchOp[] {
  if (items.length === 0) return [];
  if (existing === undefined) return [{ op: 'add', path, value: [...items] }];
  return items.map((value) => ({ op: 'add', path: `${path}/-`, value }));
}

/** Inserts `item` at the front of the array at `path` (RFC 6902 §4.1: add at an index shifts the rest). */
export function prepend(path: string, existing: readonly unknown[] | undefined, item: unknown): JsonPatchOp {
  return existing === undefined ? { op: 'add', path, value: [item] } : { op: 'add', path: `${path}/0`, value: item };
}

/** Removes the given indices of the array at `path`, highest first so earlier removals do not shift later ones. */
export function removeIndices(path: string, indices: readonly number[]): JsonPatchOp[] {
  return [...indices].sort((a, b) => b - a).map((i) => ({ op: 'remove', path: `${path}/${i}` }));
}
