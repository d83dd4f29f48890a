// `chaperone sidecar`: flags and environment → SidecarConfig → the sidecar.
import { runSidecar } from '@chaperone/sidecar/sidecar';
import type { SidecarConfig } from '@chaperone/sidecar/config';
import { stderrLogger, type LogLevel } from '../logging.js';
import { parse, parseIdentity, parseListen, untilSignal, type Command } from './command.js';

const USAGE = 'chaperone sidecar --control-plane URL [--control-plane-ca FILE] [--token-file FILE | --dev-identity NS/SA] [--connections a,b] [--port NAME=PORT]… [--spool-dir DIR] [--kube-ca-dir DIR] [--admin-listen HOST:PORT] [--log-level LEVEL]';

export const sidecar: Command = {
  usage: USAGE,
  async run(args) {
    const env = process.env;
    const { values } = parse(args, {
      'control-plane': { type: 'string' },
      'control-plane-ca': { type: 'string' },
      'token-file': { type: 'string' },
      'dev-identity': { type: 'string' },
      connections: { type: 'string' },
      port: { type: 'string', multiple: true },
      'spool-dir': { type: 'string' },
      'kube-ca-dir': { type: 'string' },
      'admin-listen': { type: 'string' },
      'log-level': { type: 'string' },
    }, USAGE);
    const url = values['control-plane'] ?? env.CHAPERONE_CONTROL_PLANE;
    if (!url) {
      process.stderr.write(`chaperone sidecar: --control-plane is required\nusage: ${USAGE}\n`);
      return 2;
    }
    const devIdentity = values['dev-identity'] ? parseIdentity(values['dev-identity']) : undefined;
    const tokenFile = values['token-file'] ?? env.CHAPERONE_TOKEN_FILE;
    const connections = (values.connections ?? env.CHAPERONE_CONNECTIONS)?.split(',').map((s) => s.trim()).filter(Boolean);
    const ports: Record<string, number> = {};
    for (const p of values.port ?? []) {
      const [name, value] = p.split('=');
      ports[name ?? ''] = parseListen(value ?? '').port;
    }
    const logLevel = (values['log-level'] ?? env.CHAPERONE_LOG_LEVEL ?? 'info') as LogLevel;
    const config: SidecarConfig = {
      controlPlane: { url, caFile: values['control-plane-ca'] },
      token: devIdentity
        ? { type: 'dev', namespace: devIdentity.namespace, serviceAccount: devIdentity.serviceAccount }
        : { type: 'file', path: tokenFile },
      connections: connections?.length ? connections : undefined,
      spoolDir: values['spool-dir'] ?? env.CHAPERONE_SPOOL_DIR,
      kubeCaDir: values['kube-ca-dir'] ?? env.CHAPERONE_KUBE_CA_DIR,
      admin: values['admin-listen'] ? parseListen(values['admin-listen']) : undefined,
      ports,
      logLevel,
    };
    const running = await runSidecar(JSON.parse(JSON.stringify(config)) as SidecarConfig, { logger: stderrLogger('chaperone-sidecar', logLevel) });
    running.ready.then(
      () => process.stderr.write(`chaperone sidecar: ready ${JSON.stringify(running.ports)}\n`),
      (err: unknown) => process.stderr.write(`chaperone sidecar: not started: ${(err as Error).message}\n`),
    );
    await untilSignal();
    await running.close();
    return 0;
  },
};
