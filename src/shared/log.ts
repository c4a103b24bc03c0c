// Logging: pino JSON lines, one child logger per component. Every string that goes out is passed through
// redactUrl, and fields named like secrets are censored, so credentials cannot reach a log by accident.
import pino, { type DestinationStream, type Logger } from 'pino';

import { redactUrl } from './redact.ts';

export type { Logger } from 'pino';

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrl(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { type: value.name, message: redactUrl(value.message), code: (value as { code?: string }).code };
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrub(v, depth + 1);
  return out;
}

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.GUARDIAN_LOG_LEVEL ?? 'info',
      base: undefined,
      redact: { paths: ['password', '*.password', 'credentials', '*.credentials', 'token', '*.token'], censor: '***' },
      formatters: { log: (obj) => scrub(obj) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          const cleaned = args.map((a) => (typeof a === 'string' ? redactUrl(a) : a)) as typeof args;
          return method.apply(this, cleaned);
        },
      },
      serializers: { err: (e: Error) => scrub(e) },
    },
    options.destination ?? pino.destination(2),
  );
}

let root: Logger | undefined;
export function rootLogger(): Logger {
  root ??= createLogger();
  return root;
}
