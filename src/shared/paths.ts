// Where the project and its read-only shared material (models, media, datasets) live.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** ../shared beside the checkout, or GUARDIAN_SHARED. */
export function sharedDir(): string {
  return process.env.GUARDIAN_SHARED ? resolve(process.env.GUARDIAN_SHARED) : join(projectRoot, '..', 'shared');
}

export function sharedPath(...parts: string[]): string {
  return join(sharedDir(), ...parts);
}
