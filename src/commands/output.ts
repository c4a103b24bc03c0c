// How commands report: JSON for scripts, short text for people, errors with their stable code.
import { MediaError } from '../../bindings/index.ts';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function fail(err: unknown, json: boolean): never {
  const code = err instanceof MediaError || (err as { code?: string })?.code ? (err as { code: string }).code : 'ERROR';
  const message = err instanceof Error ? err.message : String(err);
  if (json) printJson({ error: { code, message } });
  else process.stderr.write(`guardian: ${message} [${code}]\n`);
  process.exit(code === 'INVALID_ARGUMENT' ? 2 : 1);
}
