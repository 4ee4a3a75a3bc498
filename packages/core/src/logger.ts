import { pino, type Logger } from 'pino';

/**
 * The root logger of a process (one per process; children per request or job carry
 * `deliveryId`, `failureId`, `stage`, `attempt`). Signature headers, authorization and anything
 * named like a secret are redacted.
 *
 * @param name the process role: `ingest`, `worker`, `cli`
 * @param level pino level
 */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-hub-signature-256"]',
        'req.headers["x-hub-signature"]',
        '*.secret',
        '*.apiKey',
        '*.password',
        '*.token',
      ],
      censor: '[REDACTED]',
    },
  });
}

export type { Logger };
