// Logging: pino, one child logger per component. JSON lines for machines (journald, files, pipes); on a terminal,
// readable lines (pino-pretty) so that a first-run instruction is not buried in JSON. Every string that goes out is
// passed through redactUrl (URL credentials and every registered secret value) and fields named like secrets are
// censored at any depth before either format is written, so credentials cannot reach a log by accident.
import pino, { type DestinationStream, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';

import { redactUrl, SECRET_FIELD } from './redact.ts';

export type { Logger } from 'pino';

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrl(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[too deep]'; // not printed unscrubbed
  if (value instanceof Error) {
    return { type: value.name, message: redactUrl(value.message), code: (value as { code?: string }).code };
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELD.test(k) && v != null ? '***' : scrub(v, depth + 1);
  return out;
}

/** A destination that turns pino's (already redacted) JSON lines into readable ones, synchronously. */
function prettyStream(out: { write(text: string): unknown }): DestinationStream {
  const format = prettyFactory({
    colorize: !process.env.NO_COLOR,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname',
  });
  return { write: (line: string) => void out.write(format(line)) };
}

export interface LoggerOptions {
  level?: string;
  /** Where lines go (default stderr). */
  destination?: DestinationStream;
  /** Whether the destination is a terminal, which gets readable lines (default: whether stderr is one). */
  tty?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const out = options.destination ?? pino.destination(2);
  // On stderr, GUARDIAN_LOG_FORMAT=json|pretty overrides the choice (e.g. JSON on a terminal).
  const env = options.destination ? undefined : process.env.GUARDIAN_LOG_FORMAT;
  const pretty = options.tty ?? (env ? env === 'pretty' : !options.destination && process.stderr.isTTY === true);
  return pino(
    {
      level: options.level ?? process.env.GUARDIAN_LOG_LEVEL ?? 'info',
      base: undefined,
      formatters: { log: (obj) => scrub(obj) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          const cleaned = args.map((a) => (typeof a === 'string' ? redactUrl(a) : a)) as typeof args;
          return method.apply(this, cleaned);
        },
      },
      serializers: { err: (e: Error) => scrub(e) },
    },
    pretty ? prettyStream(out) : out,
  );
}
