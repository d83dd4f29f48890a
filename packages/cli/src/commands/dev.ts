// `chaperone dev`: the local all-in-one stack, announced by one JSON line on stdout.
import { startDevStack } from '../dev/stack.js';
import { parse, parseIdentity, untilSignal, type Command } from './command.js';

const USAGE = 'chaperone dev --policy FILE|DIR [--policy …] [--as NAMESPACE/SERVICEACCOUNT] [--data-dir DIR] [--log-level LEVEL]';

export const dev: Command = {
  usage: USAGE,
  async run(args) {
    const { values } = parse(args, {
      policy: { type: 'string', multiple: true },
      as: { type: 'string' },
      'data-dir': { type: 'string' },
      'log-level': { type: 'string' },
    }, USAGE);
    if (!values.policy?.length) {
      process.stderr.write(`chaperone dev: --policy is required\nusage: ${USAGE}\n`);
      return 2;
    }
    const stack = await startDevStack({
      policyPaths: values.policy,
      identity: parseIdentity(values.as ?? 'dev/agent'),
      dataDir: values['data-dir'],
      logLevel: values['log-level'],
      publishState: true,
      progress: (line) => process.stderr.write(`chaperone dev: ${line}\n`),
    });
    process.stdout.write(`${JSON.stringify({ ready: true, postgres: stack.postgresUrl, controlPlane: stack.controlPlaneUrl })}\n`);
    const signal = await untilSignal();
    process.stderr.write(`chaperone dev: ${signal}, stopping\n`);
    await stack.close();
    return 0;
  },
};
