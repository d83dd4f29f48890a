// Logs go to stderr as JSON lines (pino); stdout is kept for what commands print for people and scripts.
import { pino, type Logger } from 'pino';
import { LOG_REDACT } from '@chaperone/core/log-redact';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function stderrLogger(name: string, level: LogLevel): Logger {
  return pino({ name, level, redact: LOG_REDACT }, pino.destination({ fd: 2, sync: false }));
}
