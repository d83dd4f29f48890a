// The statement kinds the SQL classifier reports and policy rules match on.
// Classification never depends on the value of a literal, so statements that differ only in
// literals share one cache entry (see shape-key.ts).

export const STATEMENT_KINDS = [
  'select', 'insert', 'update', 'delete', 'merge',
  'truncate', 'create', 'alter', 'drop', 'comment', 'security_label',
  'grant', 'revoke',
  'copy_to', 'copy_from', 'copy_program',
  'do', 'call',
  'set_role', 'set_session_authorization', 'set', 'reset', 'show', 'discard',
  'transaction',
  'prepare', 'execute', 'deallocate',
  'explain',
  'declare', 'fetch', 'close',
  'listen', 'notify', 'unlisten',
  'lock', 'vacuum', 'analyze', 'cluster', 'reindex', 'refresh', 'checkpoint', 'load',
  'import_foreign_schema', 'reassign', 'other',
] as const;

export type StatementKind = (typeof STATEMENT_KINDS)[number];

/** Names a policy may use for several kinds at once. */
export const KIND_GROUPS: Readonly<Record<string, readonly StatementKind[]>> = {
  copy: ['copy_to', 'copy_from', 'copy_program'],
  ddl: ['create', 'alter', 'drop', 'comment', 'security_label', 'truncate', 'refresh', 'import_foreign_schema'],
  write: ['insert', 'update', 'delete', 'merge', 'truncate', 'copy_from'],
  read: ['select', 'copy_to', 'show', 'explain', 'fetch'],
  privilege: ['grant', 'revoke', 'set_role', 'set_session_authorization', 'reassign'],
  maintenance: ['vacuum', 'analyze', 'cluster', 'reindex', 'checkpoint', 'load'],
};

/** Expands kind names and group names into kinds; unknown names are returned in `unknown`. */
export function expandKinds(names: readonly string[]): { kinds: Set<StatementKind>; unknown: string[] } {
  const kinds = new Set<StatementKind>();
  const unknown: string[] = [];
  for (const raw of names) {
    const name = raw.toLowerCase();
    const group = KIND_GROUPS[name];
    if (group) group.forEach((k) => kinds.add(k));
    else if ((STATEMENT_KINDS as readonly string[]).includes(name)) kinds.add(name as StatementKind);
    else unknown.push(raw);
  }
  return { kinds, unknown };
}
