// Where chaperone keeps its files when no folder is configured.
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * `${XDG_DATA_HOME:-~/.local/share}/chaperone/<part>`; as root, `/var/lib/chaperone/<part>`,
 * because root's home is closed to the `postgres` user that runs the embedded PostgreSQL.
 */
export function defaultDataDir(part: string, env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.()): string {
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'chaperone', part);
  if (uid === 0) return join('/var/lib/chaperone', part);
  return join(env.HOME || homedir(), '.local', 'share', 'chaperone', part);
}
