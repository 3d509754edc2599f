// The agent's root logger: JSON lines (pino), child loggers per subsystem, tokens and auth
// headers redacted wherever they appear.
import { pino, type Logger } from 'pino';

export function createLogger(level: string, bindings: Record<string, string> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...bindings },
    redact: {
      paths: ['token', '*.token', 'headers.authorization', '*.headers.authorization', 'req.headers.authorization'],
      censor: '[redacted]',
    },
  });
}
