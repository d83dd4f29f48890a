// `chaperone control-plane`: flags and environment → ControlPlaneConfig → the server.
import { parseControlPlaneConfig, type ControlPlaneConfigInput } from '@chaperone/control-plane/config';
import { runControlPlane } from '@chaperone/control-plane/server';
import { ChaperoneError } from '@chaperone/core/errors';
import { parse, parseListen, untilSignal, type Command } from './command.js';

const USAGE = 'chaperone control-plane [--listen HOST:PORT] [--database-url URL] [--data-dir DIR] [--policy PATH]… [--credentials FILE]… [--tls-cert FILE --tls-key FILE] [--dev-issuer] [--identity dev|tokenreview|jwks] [--kubeconfig FILE] [--jwks-url URL | --jwks-file FILE] [--issuer URL] [--kubernetes-secrets [--secrets-namespace NS]] [--admin-token TOKEN] [--mask-key-file FILE] [--oidc-issuer URL --oidc-client-id ID [--oidc-groups-claim CLAIM] [--oidc-username-claim CLAIM]] [--approvals-webhook URL] [--public-url URL] [--log-level LEVEL]';

export const controlPlane: Command = {
  usage: USAGE,
  async run(args) {
    const env = process.env;
    const { values } = parse(args, {
      listen: { type: 'string' },
      'database-url': { type: 'string' },
      'data-dir': { type: 'string' },
      policy: { type: 'string', multiple: true },
      credentials: { type: 'string', multiple: true },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'dev-issuer': { type: 'boolean' },
      identity: { type: 'string' },
      kubeconfig: { type: 'string' },
      'jwks-url': { type: 'string' },
      'jwks-file': { type: 'string' },
      issuer: { type: 'string' },
      'kubernetes-secrets': { type: 'boolean' },
      'secrets-namespace': { type: 'string' },
      'admin-token': { type: 'string' },
      'mask-key-file': { type: 'string' },
      'oidc-issuer': { type: 'string' },
      'oidc-client-id': { type: 'string' },
      'oidc-groups-claim': { type: 'string' },
      'oidc-username-claim': { type: 'string' },
      'approvals-webhook': { type: 'string' },
      'public-url': { type: 'string' },
      'log-level': { type: 'string' },
    }, USAGE);
    const listen = values.listen ?? env.CHAPERONE_LISTEN;
    const cert = values['tls-cert'];
    const key = values['tls-key'];
    if ((cert === undefined) !== (key === undefined)) throw new ChaperoneError('CLI_ERR_USAGE', '--tls-cert and --tls-key go together');
    const oidcIssuer = values['oidc-issuer'] ?? env.CHAPERONE_OIDC_ISSUER;
    const oidcClientId = values['oidc-client-id'] ?? env.CHAPERONE_OIDC_CLIENT_ID;
    if ((oidcIssuer === undefined) !== (oidcClientId === undefined)) throw new ChaperoneError('CLI_ERR_USAGE', '--oidc-issuer and --oidc-client-id go together');
    const webhookUrl = values['approvals-webhook'] ?? env.CHAPERONE_APPROVALS_WEBHOOK;
    const input: ControlPlaneConfigInput = {
      listen: listen ? parseListen(listen) : undefined,
      tls: cert && key ? { certFile: cert, keyFile: key } : undefined,
      databaseUrl: values['database-url'] ?? env.CHAPERONE_DATABASE_URL,
      dataDir: values['data-dir'] ?? env.CHAPERONE_DATA_DIR,
      policyPaths: values.policy ?? (env.CHAPERONE_POLICY ? env.CHAPERONE_POLICY.split(':') : []),
      credentials: {
        static: {},
        files: values.credentials ?? (env.CHAPERONE_CREDENTIALS ? [env.CHAPERONE_CREDENTIALS] : []),
        // --secrets-namespace alone also turns Kubernetes Secrets on.
        kubernetes: values['kubernetes-secrets'] || values['secrets-namespace'] !== undefined ? { namespace: values['secrets-namespace'] } : undefined,
      },
      identity: {
        mode: (values.identity ?? env.CHAPERONE_IDENTITY) as NonNullable<ControlPlaneConfigInput['identity']>['mode'],
        kubeconfig: values.kubeconfig,
        jwksUrl: values['jwks-url'],
        jwksFile: values['jwks-file'],
        issuer: values.issuer,
      },
      devIssuer: values['dev-issuer'] ?? false,
      adminToken: values['admin-token'] ?? env.CHAPERONE_ADMIN_TOKEN,
      // The hash mask key (base64 of 32 bytes); without one it is created once in the store.
      ...(values['mask-key-file'] ?? env.CHAPERONE_MASK_KEY_FILE ? { maskKeyFile: values['mask-key-file'] ?? env.CHAPERONE_MASK_KEY_FILE }
        : env.CHAPERONE_MASK_KEY ? { maskKey: env.CHAPERONE_MASK_KEY } : {}),
      approvals: {
        oidc: oidcIssuer && oidcClientId ? {
          issuer: oidcIssuer,
          audience: oidcClientId,
          groupsClaim: values['oidc-groups-claim'] ?? env.CHAPERONE_OIDC_GROUPS_CLAIM,
          usernameClaim: values['oidc-username-claim'] ?? env.CHAPERONE_OIDC_USERNAME_CLAIM,
        } : undefined,
        notify: webhookUrl ? { webhookUrl } : undefined,
        publicUrl: values['public-url'] ?? env.CHAPERONE_PUBLIC_URL,
      },
      logLevel: values['log-level'] as ControlPlaneConfigInput['logLevel'],
    };
    const parsed = parseControlPlaneConfig(JSON.parse(JSON.stringify(input)));
    if (!parsed.ok) throw new ChaperoneError('CLI_ERR_CONFIG', `invalid configuration: ${parsed.error}`);
    const cp = await runControlPlane(parsed.config, { progress: (line) => process.stderr.write(`chaperone control-plane: ${line}\n`) });
    process.stderr.write(`chaperone control-plane: listening on ${cp.url}\n`);
    await untilSignal();
    await cp.close();
    return 0;
  },
};
