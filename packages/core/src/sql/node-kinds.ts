// Which statement kind each libpg-query statement node stands for (see kinds.ts for the kinds).
import type { StatementKind } from './kinds.js';

/** A parse-tree struct as JSON gives it: field name → value. */
export type AstObject = Record<string, unknown>;

type KindRule = StatementKind | ((node: AstObject) => StatementKind[]);

// Boolean fields that are false are left out of libpg-query's JSON, so `=== true` is the test.
const copyKinds = (n: AstObject): StatementKind[] => {
  const direction: StatementKind = n['is_from'] === true ? 'copy_from' : 'copy_to';
  return n['is_program'] === true ? ['copy_program', direction] : [direction];
};
const grantKinds = (n: AstObject): StatementKind[] => [n['is_grant'] === true ? 'grant' : 'revoke'];

/**
 * SET/RESET by the setting's name (an identifier, never a literal). `SET [LOCAL] ROLE`, `RESET
 * ROLE` and `SET ROLE DEFAULT` all change the current role; likewise session_authorization.
 * `RESET ALL` is only `reset`: PostgreSQL marks role and session_authorization GUC_NO_RESET_ALL.
 */
const setKinds = (n: AstObject): StatementKind[] => {
  const name = typeof n['name'] === 'string' ? n['name'].toLowerCase() : '';
  if (name === 'role') return ['set_role'];
  if (name === 'session_authorization') return ['set_session_authorization'];
  return [n['kind'] === 'VAR_RESET' || n['kind'] === 'VAR_RESET_ALL' ? 'reset' : 'set'];
};

/** `SELECT … INTO t` creates a table, exactly like CREATE TABLE AS. */
const selectKinds = (n: AstObject): StatementKind[] => (n['intoClause'] ? ['select', 'create'] : ['select']);

/** `DISCARD ALL` runs `SET SESSION AUTHORIZATION DEFAULT` (and so resets the role) among others. */
const discardKinds = (n: AstObject): StatementKind[] =>
  n['target'] === 'DISCARD_ALL' ? ['discard', 'set_session_authorization', 'set_role'] : ['discard'];

/** `ANALYZE` and `VACUUM` share one node. */
const vacuumKinds = (n: AstObject): StatementKind[] => [n['is_vacuumcmd'] === true ? 'vacuum' : 'analyze'];

/** Every statement node of PostgreSQL 18's grammar. A statement node missing here fails closed. */
export const STATEMENT_NODE_KINDS: Readonly<Record<string, KindRule>> = {
  SelectStmt: selectKinds, InsertStmt: 'insert', UpdateStmt: 'update', DeleteStmt: 'delete', MergeStmt: 'merge',
  TruncateStmt: 'truncate',
  CopyStmt: copyKinds,
  GrantStmt: grantKinds, GrantRoleStmt: grantKinds,
  VariableSetStmt: setKinds, VariableShowStmt: 'show', ConstraintsSetStmt: 'set', DiscardStmt: discardKinds,
  TransactionStmt: 'transaction',
  DoStmt: 'do', CallStmt: 'call',
  PrepareStmt: 'prepare', ExecuteStmt: 'execute', DeallocateStmt: 'deallocate',
  ExplainStmt: 'explain',
  DeclareCursorStmt: 'declare', FetchStmt: 'fetch', ClosePortalStmt: 'close',
  ListenStmt: 'listen', NotifyStmt: 'notify', UnlistenStmt: 'unlisten',
  LockStmt: 'lock', VacuumStmt: vacuumKinds, ClusterStmt: 'cluster', ReindexStmt: 'reindex',
  RefreshMatViewStmt: 'refresh', CheckPointStmt: 'checkpoint', LoadStmt: 'load',
  ImportForeignSchemaStmt: 'import_foreign_schema', ReassignOwnedStmt: 'reassign',
  CommentStmt: 'comment', SecLabelStmt: 'security_label',

  // DDL: create
  CreateStmt: 'create', CreateTableAsStmt: 'create', ViewStmt: 'create', RuleStmt: 'create',
  IndexStmt: 'create', CreateFunctionStmt: 'create', CreateSchemaStmt: 'create', CreateSeqStmt: 'create',
  CreateTrigStmt: 'create', CreateEventTrigStmt: 'create', CreatePLangStmt: 'create', CreateRoleStmt: 'create',
  CreateDomainStmt: 'create', CreateOpClassStmt: 'create', CreateOpFamilyStmt: 'create', DefineStmt: 'create',
  CompositeTypeStmt: 'create', CreateEnumStmt: 'create', CreateRangeStmt: 'create', CreatedbStmt: 'create',
  CreateTableSpaceStmt: 'create', CreateExtensionStmt: 'create', CreateFdwStmt: 'create',
  CreateForeignServerStmt: 'create', CreateForeignTableStmt: 'create', CreateUserMappingStmt: 'create',
  CreatePolicyStmt: 'create', CreateAmStmt: 'create', CreateStatsStmt: 'create', CreateConversionStmt: 'create',
  CreateCastStmt: 'create', CreateTransformStmt: 'create', CreatePublicationStmt: 'create',
  CreateSubscriptionStmt: 'create',

  // DDL: alter
  AlterTableStmt: 'alter', AlterTableMoveAllStmt: 'alter', AlterTableSpaceOptionsStmt: 'alter',
  ReplicaIdentityStmt: 'alter', AlterCollationStmt: 'alter', AlterDomainStmt: 'alter',
  AlterDefaultPrivilegesStmt: 'alter', AlterExtensionStmt: 'alter', AlterExtensionContentsStmt: 'alter',
  AlterFdwStmt: 'alter', AlterForeignServerStmt: 'alter', AlterUserMappingStmt: 'alter', AlterPolicyStmt: 'alter',
  AlterEventTrigStmt: 'alter', AlterRoleStmt: 'alter', AlterRoleSetStmt: 'alter', AlterSeqStmt: 'alter',
  AlterOpFamilyStmt: 'alter', AlterStatsStmt: 'alter', AlterFunctionStmt: 'alter', RenameStmt: 'alter',
  AlterObjectDependsStmt: 'alter', AlterObjectSchemaStmt: 'alter', AlterOwnerStmt: 'alter',
  AlterOperatorStmt: 'alter', AlterTypeStmt: 'alter', AlterEnumStmt: 'alter', AlterDatabaseStmt: 'alter',
  AlterDatabaseRefreshCollStmt: 'alter', AlterDatabaseSetStmt: 'alter', AlterSystemStmt: 'alter',
  AlterTSDictionaryStmt: 'alter', AlterTSConfigurationStmt: 'alter', AlterPublicationStmt: 'alter',
  AlterSubscriptionStmt: 'alter',

  // DDL: drop
  DropStmt: 'drop', DropTableSpaceStmt: 'drop', DropUserMappingStmt: 'drop', DropRoleStmt: 'drop',
  DropdbStmt: 'drop', DropOwnedStmt: 'drop', DropSubscriptionStmt: 'drop',
};

/**
 * Statement-like nodes that are deliberately not kinds of their own: they only occur nested
 * (SQL-standard function bodies, PL/pgSQL assignment, the planner's set operations, the raw
 * wrapper). Met at the top level they fail closed.
 */
export const NON_STATEMENT_NODES: ReadonlySet<string> = new Set(['RawStmt', 'ReturnStmt', 'PLAssignStmt', 'SetOperationStmt']);

/** The kinds a statement node stands for, or undefined when the node is not a statement. */
export function kindsOfNode(type: string, node: AstObject): StatementKind[] | undefined {
  const rule = STATEMENT_NODE_KINDS[type];
  if (rule === undefined) return undefined;
  return typeof rule === 'string' ? [rule] : rule(node);
}
