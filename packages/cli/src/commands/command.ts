// What every subcommand provides, and the argument parsing they share.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ChaperoneError } from '@chaperone/core/errors';

export interface Command {
  usage: string;
  run(args: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** parseArgs with the usage text in the error, so a typo tells the user what is accepted. (`--help` is answered by main.) */
export function parse<O extends Options>(args: string[], options: O, usage: string, allowPositionals = false): Parsed<O> {
  try {
    return parseArgs({ args, options, allowPositionals: allowPositionals as true, strict: true });
  } catch (err) {
    throw new ChaperoneError('CLI_ERR_USAGE', `${(err as Error).message}\nusage: ${usage}`);
  }
}

/** `namespace/serviceaccount` → identity. */
export function parseIdentity(value: string): { namespace: string; serviceAccount: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(value);
  if (!m) throw new ChaperoneError('CLI_ERR_USAGE', `identity must be NAMESPACE/SERVICEACCOUNT, got "${value}"`);
  return { namespace: m[1]!, serviceAccount: m[3]! };
}

/** host:port → parts; a bare port means 127.0.0.1. */
export function parseListen(value: string): { host: string; port: number } {
  const idx = value.lastIndexOf(':');
  const host = idx >= 0 ? value.slice(0, idx) || '127.0.0.1' : '127.0.0.1';
  const port = Number(idx >= 0 ? value.slice(idx + 1) : value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ChaperoneError('CLI_ERR_USAGE', `invalid listen address "${value}"`);
  return { host, port };
}

/** Resolves on SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
