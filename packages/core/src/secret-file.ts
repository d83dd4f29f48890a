// A generated secret kept in a file readable by its owner only, the same across restarts.
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';

/** Reads the secret in `file`, or creates one when the file is missing or empty. */
export async function loadOrCreateSecret(file: string): Promise<string> {
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(24).toString('base64url');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  // writeFile's mode applies only to a new file; an existing empty one keeps its mode.
  await chmod(file, 0o600);
  return secret;
}
