// The owner's archive secret on the edge: a 0600 file (made at first run, and then shown once to the owner, since
// without it archived footage is gone), turned into the key-encryption key once per process. It never crosses the
// link: the server only ever sees ciphertext.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { createSecret, deriveKek, type Kek, readSecretFile, writeSecretFile } from '../../shared/archive/format.ts';

export interface ArchiveKey {
  kek: Kek;
  secretFile: string;
  /** The secret, only when it was made now (to show the owner once). */
  created: string | null;
}

export async function loadArchiveKey(dataDir: string, secretFile?: string): Promise<ArchiveKey> {
  const file = secretFile ?? join(dataDir, 'archive.secret');
  let created: string | null = null;
  if (!existsSync(file)) {
    created = createSecret();
    writeSecretFile(file, created);
  }
  return { kek: await deriveKek(readSecretFile(file)), secretFile: file, created };
}
