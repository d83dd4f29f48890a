// From chart values to the injected pod: the webhook config the chart renders decides whether
// injected pods get prometheus.io/scrape|port|path (on by default, off when the PodMonitor
// scrapes the sidecars or metrics.scrapeAnnotations is false), pointing at the sidecar's /metrics.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { parseWebhookConfig } from '@chaperone/webhook/config';
import { injectPod } from '@chaperone/webhook/inject';
import { renderChart } from './shipped.js';

const POD = {
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'agent', namespace: 'agents', annotations: { 'chaperone.dev/inject': 'true' } },
  spec: { serviceAccountName: 'agent', containers: [{ name: 'agent', image: 'agent:1' }] },
};

/** The prometheus.io annotations the webhook adds to POD (or to `pod`) under the chart's config. */
async function scrapeAnnotations(values: string[], pod: unknown = POD): Promise<Record<string, string>> {
  const cm = (await renderChart(values)).find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-webhook-config'));
  assert.ok(cm?.data?.['config.yaml'], 'the webhook ConfigMap is rendered');
  const parsed = parseWebhookConfig(parse(cm.data['config.yaml']));
  if (!parsed.ok) throw new Error(parsed.error);
  const result = injectPod(pod, { config: parsed.config, nativeSidecars: true });
  assert.equal(result.kind, 'patch');
  const out: Record<string, string> = {};
  for (const op of result.kind === 'patch' ? result.patch : []) {
    const m = /^\/metadata\/annotations\/prometheus\.io~1(.+)$/.exec(op.path);
    if (m && op.op === 'add') out[`prometheus.io/${m[1]}`] = String(op.value);
  }
  return out;
}

describe('scrape annotations on injected pods', () => {
  it('by default: the sidecar admin port and /metrics', async () => {
    assert.deepEqual(await scrapeAnnotations([]), { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090', 'prometheus.io/path': '/metrics' });
  });

  it('none when the PodMonitor scrapes the sidecars, or when metrics.scrapeAnnotations is false', async () => {
    assert.deepEqual(await scrapeAnnotations(['metrics.podMonitor.enabled=true']), {});
    assert.deepEqual(await scrapeAnnotations(['metrics.scrapeAnnotations=false']), {});
  });

  it('a pod with prometheus.io annotations of its own keeps them', async () => {
    const own = { ...POD, metadata: { ...POD.metadata, annotations: { ...POD.metadata.annotations, 'prometheus.io/port': '8000' } } };
    assert.deepEqual(await scrapeAnnotations([], own), {});
  });
});
