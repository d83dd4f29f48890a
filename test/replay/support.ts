// Shared set-up for the replay tests: a real control plane (embedded PostgreSQL, listening on a
// loopback port, admin token on) holding recorded terminals POSTed as a sidecar would send them.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { startTestPostgres, type TestPostgres } from '@chaperone/control-plane/testing/embedded';
import { buildTestApp, sampleDocs, type TestApp } from '@chaperone/control-plane/testing/app';
import { sessionChain } from '@chaperone/control-plane/testing/records';
import { SAMPLE_SHELL, terminalSession, type RecordedTerminal } from '@chaperone/control-plane/testing/terminal-records';

export const ADMIN = 'replay-admin-token-0123456789abcdef';
export const BOT = { namespace: 'agents', serviceAccount: 'support-bot' };

/** A full-screen program on a second channel: alternate screen, cursor moves, then back. */
export const TOP: RecordedTerminal = {
  channel: 2, width: 100, height: 30, command: 'top -b -n1',
  batches: [[[0.1, 'o', '\u001b[?1049h\u001b[H\u001b[2Jtop - 10:00:00 up 1 day, load average: 0.42'], [0.3, 'o', '\u001b[3;1HPID USER COMMAND\r\n  1 root init'], [0.8, 'o', '\u001b[?1049l']]],
};

export interface ReplayStack {
  url: string;
  t: TestApp;
  close(): Promise<void>;
}

/** Sessions: `ssh-1` (SAMPLE_SHELL on channel 0, TOP on channel 2) and `pg-1` (no terminal). */
export async function startReplayStack(extra: RecordedTerminal[] = []): Promise<ReplayStack> {
  let pg: TestPostgres | undefined;
  let t: TestApp | undefined;
  try {
    pg = await startTestPostgres();
    t = await buildTestApp(pg.url, { docs: sampleDocs(), secrets: { 'orders-db-admin': { username: 'u', password: 'p' } }, adminToken: ADMIN });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const grant = await t.grantFor(BOT);
    const records = [...terminalSession('ssh-1', BOT, [SAMPLE_SHELL, TOP, ...extra]), ...sessionChain('pg-1', BOT)];
    const res = await t.app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${grant}` }, payload: { records } });
    assert.equal(res.statusCode, 200, res.body);
    const { port } = t.app.server.address() as AddressInfo;
    const app = t;
    const db = pg;
    return { url: `http://127.0.0.1:${port}`, t, async close() { await app.close(); await db.cleanup(); } };
  } catch (err) {
    await t?.close();
    await pg?.cleanup();
    throw err;
  }
}
