// prometheus.io/scrape, /port, /path on injected pods: how a plain Prometheus (kubernetes_sd
// "pod" role with the usual relabelling) finds the sidecar's /metrics without the PodMonitor.
import { escapePointer, type JsonPatchOp } from './json-patch.js';

export const SCRAPE = 'prometheus.io/scrape';
export const SCRAPE_PORT = 'prometheus.io/port';
export const SCRAPE_PATH = 'prometheus.io/path';

/**
 * The three annotations pointing at the sidecar's admin port, or none when the pod already has
 * any prometheus.io/* annotation: those describe the agent's own metrics, and a pod has one
 * scrape target under this convention, so the agent's stay (scrape the sidecar with the PodMonitor).
 */
export function scrapeAnnotationOps(existing: Readonly<Record<string, string>>, adminPort: number): JsonPatchOp[] {
  if (Object.keys(existing).some((k) => k.startsWith('prometheus.io/'))) return [];
  return [
    { op: 'add', path: `/metadata/annotations/${escapePointer(SCRAPE)}`, value: 'true' },
    { op: 'add', path: `/metadata/annotations/${escapePointer(SCRAPE_PORT)}`, value: String(adminPort) },
    { op: 'add', path: `/metadata/annotations/${escapePointer(SCRAPE_PATH)}`, value: '/metrics' },
  ];
}
