// How commands report. With --json the result is one JSON document on stdout and nothing else goes there; people
// get short text. Errors always go to stderr as `guardian: message [CODE]` (exit 2 for bad input, 1 otherwise), and
// long work shows a progress bar on stderr when it is a terminal.
import cliProgress from 'cli-progress';

import { redactUrl } from '../shared/redact.ts';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** The stable code of an error: its own (MediaError, GuardianError, Node's ENOENT ...) or ERROR. */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code ? code : 'ERROR';
}

export function errorLine(err: unknown, context?: string): string {
  const message = redactUrl(err instanceof Error ? err.message : String(err));
  return `guardian: ${context ? `${context}: ` : ''}${message} [${errorCode(err)}]`;
}

/** Prints the error in the one format every command uses and ends the process. */
export function fail(err: unknown, context?: string): never {
  process.stderr.write(`${errorLine(err, context)}\n`);
  // The stack only helps when debugging Guardian itself.
  if (/^(debug|trace)$/.test(process.env.GUARDIAN_LOG_LEVEL ?? '') && err instanceof Error && err.stack)
    process.stderr.write(`${err.stack}\n`);
  process.exit(errorCode(err) === 'INVALID_ARGUMENT' ? 2 : 1);
}

export interface Progress {
  /** `total` in seconds of media, or null for a live source (then the bar just counts). */
  start(total: number | null): void;
  update(seconds: number): void;
  stop(): void;
}

/** A progress bar on stderr, only when stderr is a terminal (never in pipes, logs or tests). */
export function progressBar(what: string, enabled = process.stderr.isTTY === true): Progress {
  if (!enabled) return { start() {}, update() {}, stop() {} };
  let bar: cliProgress.SingleBar | undefined;
  let total = 0;
  return {
    start(seconds) {
      total = seconds ? Math.round(seconds) : 0;
      bar = new cliProgress.SingleBar(
        {
          format: total
            ? `${what} [{bar}] {percentage}% | {value}/{total} s | ETA {eta}s`
            : `${what} {value} s of live video (Ctrl-C to stop)`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0);
    },
    update(seconds) {
      bar?.update(Math.min(total || Number.POSITIVE_INFINITY, Math.round(seconds)));
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
