// Test helper: one real embedded PostgreSQL per test file, in a temporary directory.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../embedded.js';

export interface TestPostgres {
  url: string;
  port: number;
  dataDir: string;
  /** Stops the server (idempotent); the data directory stays until cleanup(). */
  stop(): Promise<void>;
  /** Stops the server and removes its data directory. */
  cleanup(): Promise<void>;
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const dataDir = await mkdtemp(join(tmpdir(), 'chaperone-cp-test-'));
  // mkdtemp makes 0700; as root the server runs as `postgres`, which must enter it.
  await chmod(dataDir, 0o755);
  const lines: string[] = [];
  try {
    const pg = await startEmbeddedPostgres({ dataDir, progress: (l) => lines.push(l) });
    return {
      url: pg.url,
      port: pg.port,
      dataDir,
      stop: pg.stop,
      cleanup: async () => {
        await pg.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}
