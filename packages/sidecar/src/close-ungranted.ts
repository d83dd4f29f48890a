// The last step of bringing one connection type's listeners in line with a bundle, the same for
// PostgreSQL (sidecar.ts), SSH and Kubernetes: close the listeners of connections no longer granted.
import type { Logger } from 'pino';
import type { ConnectionDoc } from '@chaperone/core/policy/types';

/** Closes and forgets every proxy whose connection is not among `granted`, and its port. */
export async function closeUngranted<P extends { close(): Promise<void> }>(
  proxies: Map<string, P>,
  granted: readonly ConnectionDoc[],
  ports: Record<string, number>,
  logger: Logger,
): Promise<void> {
  for (const [name, proxy] of proxies) {
    if (granted.some((c) => c.metadata.name === name)) continue;
    logger.info({ connection: name }, 'connection no longer granted; closing its listener');
    proxies.delete(name);
    delete ports[name];
    await proxy.close();
  }
}
