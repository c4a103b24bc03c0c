// What the long-running commands share: configuration errors reported field by field (exit 2) and an orderly stop
// on SIGTERM/SIGINT.
import { GuardianError, ValidationError } from '../shared/errors.ts';
import { errorLine, fail } from './output.ts';

/** Runs `load`; a configuration error is printed with every problem and ends the process with status 2. */
export function configOrExit<T>(load: () => T, file?: string): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const n = err.issues.length;
    const what = `the configuration${file ? ` ${file}` : ''} has ${n} problem${n === 1 ? '' : 's'}`;
    process.stderr.write(`${errorLine(new GuardianError(err.code, what))}\n`);
    for (const i of err.issues) process.stderr.write(`  - ${i.field}: ${i.message}\n`);
    process.exit(2);
  }
}

/** Stops once on the first SIGTERM/SIGINT, then exits 0 (or 1, saying why, if stopping failed). */
export function runUntilSignal(stop: () => Promise<void>, what = 'stopping'): void {
  let stopping = false;
  const onSignal = (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\nguardian: ${sig}: ${what}...\n`);
    stop().then(
      () => process.exit(0),
      (err) => fail(err, 'stopping failed'),
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}
