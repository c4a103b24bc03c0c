// A labelled dataset as the edge exports it (src/edge/datasets/store.ts): a ZIP of images/<label>/<id>.jpg and
// manifest.json ({"format": "guardian-dataset/1", "items": [{file, label, cameraId, takenMs}]}). Reading one is the
// trust boundary of training: the owner's server receives it from an edge, `guardian train` from anywhere. So it is
// checked entry by entry before anything is kept: only the names the format has (no paths of its own making: files
// are written under names chosen here), no links, no directories, sizes bounded per entry and in all (yauzl checks
// the real inflated size against the header, so a zip bomb stops at the bound), JPEG signatures, and a manifest that
// lists exactly the images present. A refused archive leaves nothing behind.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import yauzl from 'yauzl';

import { GuardianError } from './errors.ts';

export const DATASET_FORMAT = 'guardian-dataset/1';
const IMAGE_NAME = /^images\/([a-z0-9_-]{1,32})\/([0-9A-HJKMNP-TV-Z]{26})\.jpg$/;

export interface DatasetItem {
  /** Relative to the dataset dir: images/<n>.jpg, named here. */
  file: string;
  label: string;
  cameraId: string;
  takenMs: number;
  /** The image's id in the edge's export. */
  id: string;
}

export interface DatasetManifest {
  format: typeof DATASET_FORMAT;
  createdMs: number;
  items: DatasetItem[];
}

export interface DatasetLimits {
  maxEntries: number;
  maxImageBytes: number;
  maxTotalBytes: number;
  maxManifestBytes: number;
}

export const defaultDatasetLimits: DatasetLimits = {
  maxEntries: 20_000,
  maxImageBytes: 16 * 1024 * 1024,
  maxTotalBytes: 2 * 1024 * 1024 * 1024,
  maxManifestBytes: 8 * 1024 * 1024,
};

const refuse = (why: string) => new GuardianError('INVALID_ARGUMENT', `not a Guardian dataset: ${why}`);

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true }, (err, zip) =>
      err ? reject(refuse(`the ZIP cannot be read (${err.message})`)) : resolve(zip as yauzl.ZipFile),
    ),
  );
}

/** Streams one entry into `file` (or memory when `file` is null), never past `max` bytes. */
function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, max: number, file: string | null): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) return reject(refuse(`${entry.fileName} cannot be read (${err?.message})`));
      const chunks: Buffer[] = [];
      const fd = file ? openSync(file, 'wx', 0o600) : -1;
      let n = 0;
      let head: Buffer | null = null;
      const done = (e: Error | null) => {
        if (fd >= 0) closeSync(fd);
        if (e) reject(e);
        else resolve(file ? head : Buffer.concat(chunks));
      };
      stream.on('data', (c: Buffer) => {
        n += c.length;
        if (n > max) {
          stream.destroy();
          return done(refuse(`${entry.fileName} inflates past ${max} bytes`));
        }
        if (!head) head = c.subarray(0, 4);
        if (fd >= 0) writeSync(fd, c);
        else chunks.push(c);
      });
      stream.on('error', (e) => done(refuse(`${entry.fileName} is damaged (${e.message})`)));
      stream.on('end', () => done(null));
    });
  });
}

/**
 * Checks a dataset ZIP and extracts it into `dir` (created, 0700; must not exist): images/<n>.jpg and manifest.json
 * with those names. `decodes` (optional) is asked whether each image really decodes. Throws INVALID_ARGUMENT with
 * the first problem found, and then `dir` does not exist.
 */
export async function extractDataset(
  zipPath: string,
  dir: string,
  limits: DatasetLimits = defaultDatasetLimits,
  decodes?: (file: string) => Promise<boolean>,
): Promise<DatasetManifest> {
  const zip = await openZip(zipPath);
  mkdirSync(dir, { mode: 0o700 });
  mkdirSync(join(dir, 'images'), { mode: 0o700 });
  try {
    if (zip.entryCount > limits.maxEntries)
      throw refuse(`it has ${zip.entryCount} entries; at most ${limits.maxEntries} are accepted`);
    const images = new Map<string, { file: string; label: string; id: string }>();
    let manifest: unknown;
    let total = 0;
    await new Promise<void>((resolve, reject) => {
      zip.on('error', (e: Error) => reject(refuse(`the ZIP is damaged (${e.message})`)));
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        (async () => {
          const name = entry.fileName;
          const mode = (entry.externalFileAttributes >>> 16) & 0o170000;
          if (mode !== 0 && mode !== 0o100000) throw refuse(`${name} is not a plain file (a link or a device)`);
          if (entry.isEncrypted()) throw refuse(`${name} is encrypted`);
          total += entry.uncompressedSize;
          if (total > limits.maxTotalBytes) throw refuse(`it inflates past ${limits.maxTotalBytes} bytes in all`);
          if (name === 'manifest.json') {
            if (manifest !== undefined) throw refuse('it has two manifests');
            const text = await readEntry(zip, entry, limits.maxManifestBytes, null);
            try {
              manifest = JSON.parse((text as Buffer).toString('utf8'));
            } catch (err) {
              throw refuse(`manifest.json is not JSON (${(err as Error).message})`);
            }
            return;
          }
          const m = IMAGE_NAME.exec(name);
          if (!m)
            throw refuse(
              `unexpected entry ${JSON.stringify(name.slice(0, 120))} (only images/<label>/<id>.jpg and manifest.json)`,
            );
          if (images.has(name)) throw refuse(`${name} appears twice`);
          const file = `images/${String(images.size + 1).padStart(6, '0')}.jpg`;
          const head = await readEntry(zip, entry, limits.maxImageBytes, join(dir, file));
          if (!head || head.length < 3 || head[0] !== 0xff || head[1] !== 0xd8 || head[2] !== 0xff)
            throw refuse(`${name} is not a JPEG`);
          images.set(name, { file, label: m[1] as string, id: m[2] as string });
        })().then(
          () => zip.readEntry(),
          (err) => {
            zip.close();
            reject(err);
          },
        );
      });
      zip.readEntry();
    });
    if (manifest === undefined) throw refuse('it has no manifest.json');
    const doc = manifest as { format?: unknown; createdMs?: unknown; items?: unknown };
    if (doc?.format !== DATASET_FORMAT) throw refuse(`manifest.json's format is not ${DATASET_FORMAT}`);
    if (!Array.isArray(doc.items)) throw refuse('manifest.json has no items list');
    const items: DatasetItem[] = [];
    const listed = new Set<string>();
    for (const raw of doc.items as unknown[]) {
      const it = raw as { file?: unknown; label?: unknown; cameraId?: unknown; takenMs?: unknown };
      const image = typeof it?.file === 'string' ? images.get(it.file) : undefined;
      if (!image) throw refuse(`manifest.json lists ${JSON.stringify(it?.file)}, which the archive does not hold`);
      if (listed.has(it.file as string)) throw refuse(`manifest.json lists ${it.file} twice`);
      if (it.label !== image.label) throw refuse(`${it.file}: the manifest's label is not its folder's`);
      if (typeof it.cameraId !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(it.cameraId))
        throw refuse(`${it.file}: cameraId must be a camera id`);
      if (!Number.isInteger(it.takenMs)) throw refuse(`${it.file}: takenMs must be a time in milliseconds`);
      listed.add(it.file as string);
      items.push({
        file: image.file,
        label: image.label,
        cameraId: it.cameraId,
        takenMs: it.takenMs as number,
        id: image.id,
      });
    }
    const unlisted = [...images.keys()].filter((n) => !listed.has(n));
    if (unlisted.length) throw refuse(`${unlisted[0]} is not in manifest.json`);
    if (decodes)
      for (const it of items) if (!(await decodes(join(dir, it.file)))) throw refuse(`image ${it.id} does not decode`);
    const out: DatasetManifest = {
      format: DATASET_FORMAT,
      createdMs: Number.isInteger(doc.createdMs) ? (doc.createdMs as number) : Date.now(),
      items,
    };
    const fd = openSync(join(dir, 'manifest.json'), 'wx', 0o600);
    writeSync(fd, JSON.stringify(out, null, 2));
    closeSync(fd);
    return out;
  } catch (err) {
    zip.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The manifest of an extracted dataset dir (as written by extractDataset). */
export function readDatasetDir(dir: string): DatasetManifest {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as DatasetManifest;
  if (m.format !== DATASET_FORMAT || !Array.isArray(m.items))
    throw refuse(`${dir}/manifest.json is not a dataset manifest`);
  for (const it of m.items)
    if (!/^images\/\d{6}\.jpg$/.test(it.file)) throw refuse(`${dir}/manifest.json names ${JSON.stringify(it.file)}`);
  return m;
}
