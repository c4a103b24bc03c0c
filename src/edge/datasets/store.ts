// Dataset screenshots (for training the anomaly model): JPEGs under <dataDir>/screenshots, indexed in SQLite with
// their label, and exported as a ZIP with a manifest. Files are named by id, never by anything a request says.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ulid } from 'ulidx';
import yazl from 'yazl';

import type { Db } from '../../shared/db.ts';
import { GuardianError } from '../../shared/errors.ts';

export interface Screenshot {
  id: string;
  cameraId: string;
  /** Relative to the data dir. */
  file: string;
  label: string;
  takenMs: number;
}

export class DatasetStore {
  constructor(
    private readonly db: Db,
    private readonly dataDir: string,
  ) {}

  add(cameraId: string, jpeg: Uint8Array, label: string): Omit<Screenshot, 'file'> {
    const id = ulid();
    const file = join('screenshots', cameraId, `${id}.jpg`);
    mkdirSync(join(this.dataDir, 'screenshots', cameraId), { recursive: true, mode: 0o700 });
    writeFileSync(join(this.dataDir, file), jpeg, { mode: 0o600 });
    const takenMs = Date.now();
    this.db
      .prepare('INSERT INTO screenshots (id, camera_id, file, label, taken_ms) VALUES (?, ?, ?, ?, ?)')
      .run(id, cameraId, file, label, takenMs);
    return { id, cameraId, label, takenMs };
  }

  list(): Screenshot[] {
    return this.db
      .prepare(
        'SELECT id, camera_id AS cameraId, file, label, taken_ms AS takenMs FROM screenshots ORDER BY taken_ms DESC',
      )
      .all() as Screenshot[];
  }

  get(id: string): Screenshot | undefined {
    return this.db
      .prepare('SELECT id, camera_id AS cameraId, file, label, taken_ms AS takenMs FROM screenshots WHERE id = ?')
      .get(id) as Screenshot | undefined;
  }

  label(id: string, label: string): void {
    const r = this.db.prepare('UPDATE screenshots SET label = ? WHERE id = ?').run(label, id);
    if (!r.changes) throw new GuardianError('NOT_FOUND', 'no such screenshot');
  }

  /** The labelled dataset as a ZIP: images/<label>/<id>.jpg and manifest.json. `abs` resolves a stored file. */
  exportZip(abs: (file: string) => string): NodeJS.ReadableStream {
    const zip = new yazl.ZipFile();
    const manifest = { format: 'guardian-dataset/1', createdMs: Date.now(), items: [] as unknown[] };
    for (const r of this.list()) {
      const name = `images/${r.label}/${r.id}.jpg`;
      let file: string;
      try {
        file = abs(r.file);
      } catch {
        continue; // gone, or not a file that may be served (a link out of the data dir): left out, not fatal
      }
      zip.addFile(file, name);
      manifest.items.push({ file: name, label: r.label, cameraId: r.cameraId, takenMs: r.takenMs });
    }
    zip.addBuffer(Buffer.from(JSON.stringify(manifest, null, 2)), 'manifest.json');
    zip.end();
    return zip.outputStream;
  }
}
