import pino from 'pino';

/**
 * Structured JSON logs. Any field named like a secret is redacted, so a datasource object that
 * carries a resolved password can never print it by accident.
 */
export const logger = pino({
  level: process.env.OTTERFLOW_LOG_LEVEL ?? 'info',
  base: { service: 'otterflow' },
  redact: {
    paths: ['password', '*.password', '*.*.password', 'token', '*.token', 'authorization', '*.authorization'],
    censor: '[redacted]',
  },
});

export type Logger = typeof logger;
