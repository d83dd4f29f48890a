// What every chaperone logger censors: credentials, tokens and grants wherever a log call puts them.
import type { LoggerOptions } from 'pino';

const SECRET_KEYS = ['password', 'token', 'grant', 'credential', 'credentials', 'maskKey', 'privateKey', 'secret', 'authorization', 'cookie'];

/**
 * pino `redact` paths: the secret keys at the top of a log object and one level down (pino's
 * wildcards match one level), and fastify's request headers.
 */
export const LOG_REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["proxy-authorization"]',
];

/** The `redact` option for pino and fastify loggers. */
export const LOG_REDACT: NonNullable<LoggerOptions['redact']> = { paths: [...LOG_REDACT_PATHS], censor: '[redacted]' };
