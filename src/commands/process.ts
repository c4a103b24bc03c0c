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

/**
 * Catches SIGTERM/SIGINT from the moment it is called, so that a signal during start-up (systemd stopping a unit that
 * is still starting, a test that stops a server as soon as it says it is ready) does not kill the process before its
 * database is closed. Once `running(stop)` is given the stop function, the first signal (or one that came earlier)
 * stops once, then the process exits 0 (or 1, saying why, if stopping failed). A second signal during start-up exits
 * at once; while stopping, it is ignored (recordings are being finished).
 */
export function stopOnSignal(what = 'stopping'): { running(stop: () => Promise<void>): void } {
  let stop: (() => Promise<void>) | undefined;
  let signal: string | undefined;
  const stopNow = () => {
    process.stderr.write(`\nguardian: ${signal}: ${what}...\n`);
    (stop as () => Promise<void>)().then(
      () => process.exit(0),
      (err) => fail(err, 'stopping failed'),
    );
  };
  const onSignal = (sig: string) => {
    if (signal && stop) return;
    if (signal) {
      process.stderr.write(`\nguardian: ${sig} again: exiting without finishing\n`);
      process.exit(130);
    }
    signal = sig;
    if (stop) stopNow();
    else process.stderr.write(`\nguardian: ${sig}: stopping as soon as start-up is done (again to exit now)\n`);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  return {
    running(s) {
      stop = s;
      if (signal) stopNow();
    },
  };
}
