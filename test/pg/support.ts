// Shared set-up for the PostgreSQL proxy integration tests: a PgProxy in front of the harness
// server, with a small policy (deny kind 'drop', require approval for 'truncate') over the real
// classifier, and an observer that keeps every event for assertions.
import { classifySql, loadSqlParser } from '@chaperone/core/sql/classify';
import type { Decision } from '@chaperone/core/decision';
import { PgProxy } from '@chaperone/sidecar/pg/proxy';
import type { PgObserver, PgProxyOptions, SqlVerdict } from '@chaperone/sidecar/pg/proxy';
import { DATABASE, USERS } from '../harness/postgres.js';
import type { Endpoint, PostgresServer } from '../harness/postgres.js';

export const DENY_DROP_MESSAGE = 'DROP is not allowed here';

/** The test policy: kind 'drop' anywhere → deny; 'truncate' → approve; unparseable → deny. */
export function testEnforce(text: string): SqlVerdict {
  const c = classifySql(text);
  if (!c.ok) return verdict({ action: 'deny', message: `unclassifiable statement: ${c.error}`, policy: '', rule: 'unclassified' }, [], []);
  const kinds = c.statements.flatMap((s) => s.kinds);
  const tables = c.statements.flatMap((s) => s.tables);
  if (kinds.includes('drop')) return verdict({ action: 'deny', message: DENY_DROP_MESSAGE, policy: 'test-policy', rule: 'test-policy#0' }, kinds, tables);
  if (kinds.includes('truncate')) {
    return verdict({ action: 'approve', approvers: ['group:dba'], timeoutSeconds: 60, message: 'needs a DBA', policy: 'test-policy', rule: 'test-policy#1' }, kinds, tables);
  }
  return verdict({ action: 'allow', policy: 'test-policy', rule: 'default' }, kinds, tables);
}

function verdict(decision: Decision, kinds: string[], tables: string[]): SqlVerdict {
  return { decision, kinds, tables, redactLiterals: false };
}

export type StatementEvent = Parameters<PgObserver['statement']>[0];

export class RecordingObserver implements PgObserver {
  started: { id: string; client: Record<string, string> }[] = [];
  statements: StatementEvent[] = [];
  ended: { session: string; reason: string; statements: number; durationMs: number }[] = [];
  sessionStarted(info: { id: string; client: Record<string, string> }): void { this.started.push(info); }
  statement(info: StatementEvent): void { this.statements.push(info); }
  sessionEnded(info: { session: string; reason: string; statements: number; durationMs: number }): void { this.ended.push(info); }
}

export interface ProxyUnderTest { proxy: PgProxy; port: number; observer: RecordingObserver; endpoint: Endpoint }

export async function startProxy(pg: PostgresServer, o: Partial<PgProxyOptions> = {}): Promise<ProxyUnderTest> {
  await loadSqlParser();
  const observer = new RecordingObserver();
  const proxy = new PgProxy({
    listen: { host: '127.0.0.1', port: 0 },
    connectionName: 'test-db',
    target: { host: pg.host, port: pg.port, database: DATABASE, sslmode: 'disable' },
    credential: USERS.scram,
    enforce: testEnforce,
    observer,
    ...o,
  });
  const { port } = await proxy.start();
  // The agent's user name is ignored: the proxy logs in with the Connection's credential.
  return { proxy, port, observer, endpoint: { host: '127.0.0.1', port, user: 'agent', database: 'whatever' } };
}

/** Waits until `check` holds, polling (for events that arrive after the client call returns). */
export async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
