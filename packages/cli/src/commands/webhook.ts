// `chaperone webhook`: flags (the chart's args), an optional config file → WebhookConfig, a certificate source → the server.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { ChaperoneError } from '@chaperone/core/errors';
import { decideNativeSidecars, loadDefaultKubeConfig } from '@chaperone/webhook/cluster-version';
import { loadWebhookConfigFile, parseWebhookConfig, type WebhookConfig } from '@chaperone/webhook/config';
import { startWebhookServer } from '@chaperone/webhook/server';
import { startFileSource } from '@chaperone/webhook/tls/file-source';
import { startGeneratedSource } from '@chaperone/webhook/tls/generated-source';
import { startSecretSource } from '@chaperone/webhook/tls/secret-source';
import type { CertificateSource } from '@chaperone/webhook/tls/source';
import { stderrLogger, type LogLevel } from '../logging.js';
import { parse, parseListen, untilSignal, type Command } from './command.js';

const USAGE = 'chaperone webhook [--config FILE] [--listen HOST:PORT] [--metrics-listen HOST:PORT] [--tls-mode generate|secret|files] [--tls-secret NAME] [--tls-dir DIR] [--webhook-config NAME] [--service NAME] [--namespace NS] [--sidecar-image IMAGE] [--control-plane URL] [--failure-mode allow|deny] [--native-sidecars auto|always|never] [--connection NAME=TYPE:PORT]… [--log-level LEVEL]';

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function podNamespace(): string | undefined {
  try {
    return readFileSync(SA_NAMESPACE_FILE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** `orders-db=postgres:5432` → a connections entry. */
function parseConnection(value: string): [string, { type: string; port: number }] {
  const m = /^([^=]+)=(postgres|ssh|kubernetes):(\d+)$/.exec(value);
  if (!m) throw new ChaperoneError('CLI_ERR_USAGE', `--connection must be NAME=postgres|ssh|kubernetes:PORT, got "${value}"`);
  return [m[1]!, { type: m[2]!, port: Number(m[3]) }];
}

export const webhook: Command = {
  usage: USAGE,
  async run(args) {
    const env = process.env;
    const { values } = parse(args, {
      config: { type: 'string' },
      listen: { type: 'string' },
      'metrics-listen': { type: 'string' },
      'tls-mode': { type: 'string' },
      'tls-secret': { type: 'string' },
      'tls-dir': { type: 'string' },
      'webhook-config': { type: 'string' },
      service: { type: 'string' },
      namespace: { type: 'string' },
      'sidecar-image': { type: 'string' },
      'control-plane': { type: 'string' },
      'failure-mode': { type: 'string' },
      'native-sidecars': { type: 'string' },
      connection: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
    }, USAGE);
    const logLevel = (values['log-level'] ?? env.CHAPERONE_LOG_LEVEL ?? 'info') as LogLevel;
    const log = stderrLogger('chaperone-webhook', logLevel);
    const configPath = values.config ?? env.CHAPERONE_WEBHOOK_CONFIG;

    // Flags win over the file, so the chart's args and a hand-written file compose.
    const withFlags = (base: WebhookConfig): WebhookConfig => {
      const extra = Object.fromEntries((values.connection ?? []).map(parseConnection));
      const input = {
        ...base,
        sidecar: { ...base.sidecar, ...(values['sidecar-image'] ? { image: values['sidecar-image'] } : {}) },
        controlPlane: { ...base.controlPlane, ...(values['control-plane'] ? { url: values['control-plane'] } : {}) },
        failureMode: values['failure-mode'] ?? base.failureMode,
        nativeSidecars: values['native-sidecars'] ?? base.nativeSidecars,
        connections: { ...base.connections, ...extra },
      };
      const r = parseWebhookConfig(input);
      if (!r.ok) throw new ChaperoneError('CLI_ERR_CONFIG', `invalid configuration: ${r.error}`);
      return r.config;
    };
    const load = (): WebhookConfig => {
      const r = configPath ? loadWebhookConfigFile(configPath) : parseWebhookConfig({});
      if (!r.ok) throw new ChaperoneError('CLI_ERR_CONFIG', `invalid configuration: ${r.error}`);
      return withFlags(r.config);
    };
    let config = load();

    const mode = values['tls-mode'] ?? 'generate';
    const namespace = values.namespace ?? env.CHAPERONE_NAMESPACE ?? podNamespace();
    const needsKube = mode !== 'files' || config.nativeSidecars === 'auto';
    const kc = needsKube ? loadDefaultKubeConfig() : undefined;
    const need = (v: string | undefined, flag: string): string => {
      if (!v) throw new ChaperoneError('CLI_ERR_USAGE', `--tls-mode ${mode} needs ${flag}\nusage: ${USAGE}`);
      return v;
    };
    let certificates: CertificateSource;
    switch (mode) {
      case 'generate':
        certificates = await startGeneratedSource({
          kubeConfig: kc!, namespace: need(namespace, '--namespace'), service: need(values.service, '--service'),
          webhookConfigName: need(values['webhook-config'], '--webhook-config'),
          ...(values['tls-secret'] ? { caSecretName: values['tls-secret'] } : {}), logger: log,
        });
        break;
      case 'secret':
        certificates = await startSecretSource({ kubeConfig: kc!, namespace: need(namespace, '--namespace'), name: need(values['tls-secret'], '--tls-secret'), logger: log });
        break;
      case 'files':
        certificates = await startFileSource({ dir: need(values['tls-dir'], '--tls-dir'), logger: log });
        break;
      default:
        throw new ChaperoneError('CLI_ERR_USAGE', `--tls-mode must be generate, secret or files, got "${mode}"`);
    }

    const native = await decideNativeSidecars(config.nativeSidecars, kc);
    log.info({ native: native.native }, native.why);
    // A mounted ConfigMap is updated in place by the kubelet: re-read it, keep the old config if the new one is bad.
    if (configPath) {
      watchFile(configPath, { interval: 5_000 }, () => {
        try {
          config = load();
          log.info({ path: configPath }, 'configuration reloaded');
        } catch (err) {
          log.error({ err, path: configPath }, 'configuration not reloaded; keeping the previous one');
        }
      });
    }
    const server = await startWebhookServer({
      listen: parseListen(values.listen ?? '0.0.0.0:8443'),
      metricsListen: parseListen(values['metrics-listen'] ?? '0.0.0.0:9090'),
      certificates,
      config: () => config,
      nativeSidecars: native.native,
      logger: log,
    });
    process.stderr.write(`chaperone webhook: listening on ${server.url}/mutate, metrics on ${server.metricsUrl}\n`);
    await untilSignal();
    if (configPath) unwatchFile(configPath);
    await server.close();
    await certificates.close();
    return 0;
  },
};
