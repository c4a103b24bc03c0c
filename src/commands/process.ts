// What the long-running commands share: configuration errors reported field by field (exit 2), fatal errors
// (exit 1), and an orderly stop on SIGTERM/SIGINT.
import { ValidationError } from '../shared/errors.ts';

export function fail(message: string, code = 1): never {
  process.stderr.write(`guardian: ${message}\n`);
  process.exit(code);
}

/** Runs `load`; a configuration error is printed with every problem and ends the process with status 2. */
export function configOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    process.stderr.write(`guardian: the configuration has ${err.issues.length} problem(s):\n`);
    for (const i of err.issues) process.stderr.write(`  - ${i.field}: ${i.message}\n`);
    process.exit(2);
  }
}

/** Stops once on the first SIGTERM/SIGINT, then exits 0 (or 1 if stopping failed). */
export function runUntilSignal(stop: () => Promise<void>, what = 'stopping'): void {
  let stopping = false;
  const onSignal = (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\nguardian: ${sig}: ${what}...\n`);
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}
