// Where the project and its read-only shared material (models, media, datasets) live.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The checkout this one was cloned from, when that is a local repository (a fresh clone in a temporary folder). */
function originCheckout(): string | undefined {
  try {
    const config = readFileSync(join(projectRoot, '.git', 'config'), 'utf8');
    const url = /\[remote "origin"\][^[]*?url\s*=\s*(\S+)/.exec(config)?.[1];
    const path = url?.startsWith('file://') ? fileURLToPath(url) : url;
    return path && isAbsolute(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

let cached: string | undefined;

/** GUARDIAN_SHARED, else ../shared beside the checkout, else ../shared beside the local repository it was cloned from. */
export function sharedDir(): string {
  if (process.env.GUARDIAN_SHARED) return resolve(process.env.GUARDIAN_SHARED);
  if (cached) return cached;
  const beside = join(projectRoot, '..', 'shared');
  const origin = originCheckout();
  const fromOrigin = origin ? join(origin, '..', 'shared') : undefined;
  cached = !existsSync(beside) && fromOrigin && existsSync(fromOrigin) ? fromOrigin : beside;
  return cached;
}

export function sharedPath(...parts: string[]): string {
  return join(sharedDir(), ...parts);
}
