// The dataset ZIP is the trust boundary of training (an edge's upload, or any file given to `guardian train`): every
// hostile form is refused with a clear error and leaves nothing behind.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import yazl from 'yazl';

import { defaultDatasetLimits, extractDataset } from '../../src/shared/dataset-archive.ts';
import { tempDir } from '../helpers.ts';

const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(100, 7)]);
const ID = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
const NAME = `images/normal/${ID}.jpg`;

type Entry = { name: string; data: Buffer; mode?: number; compress?: boolean };

function zipOf(entries: Entry[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries)
    zip.addBuffer(e.data, e.name, { ...(e.mode ? { mode: e.mode } : {}), compress: e.compress ?? true });
  zip.end();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

const manifest = (items: unknown[]) =>
  Buffer.from(JSON.stringify({ format: 'guardian-dataset/1', createdMs: 1, items }));
const item = (file = NAME, label = 'normal') => ({ file, label, cameraId: 'yard', takenMs: 5 });

describe('dataset ZIP checks', () => {
  let tmp: ReturnType<typeof tempDir>;
  let n = 0;
  beforeEach(() => {
    tmp = tempDir('guardian-dataset-');
  });
  afterEach(() => tmp.remove());

  async function attempt(zip: Buffer, limits = defaultDatasetLimits) {
    const file = join(tmp.path, `in-${++n}.zip`);
    writeFileSync(file, zip);
    const dir = join(tmp.path, `out-${n}`);
    try {
      return { manifest: await extractDataset(file, dir, limits), dir };
    } catch (err) {
      assert.equal(existsSync(dir), false, 'a refused archive leaves nothing behind');
      return { error: err as Error & { code?: string }, dir };
    }
  }

  it('extracts a good one under names of its own, 0600 in a 0700 dir', async () => {
    const r = await attempt(
      await zipOf([
        { name: NAME, data: JPEG },
        { name: 'manifest.json', data: manifest([item()]) },
      ]),
    );
    assert.ok(r.manifest, r.error?.message);
    assert.deepEqual(r.manifest.items, [
      { file: 'images/000001.jpg', label: 'normal', cameraId: 'yard', takenMs: 5, id: ID },
    ]);
    assert.deepEqual(readFileSync(join(r.dir, 'images/000001.jpg')), JPEG);
    assert.equal(statSync(r.dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(r.dir, 'images/000001.jpg')).mode & 0o777, 0o600);
  });

  const refusals: [string, () => Promise<Buffer>, RegExp, Partial<typeof defaultDatasetLimits>?][] = [
    [
      'a path traversal in an entry name',
      async () => {
        const good = await zipOf([
          { name: NAME, data: JPEG },
          { name: 'manifest.json', data: manifest([item()]) },
        ]);
        // Same length as NAME, in the local header and the central directory alike.
        const evil = `../../../../../../../../tmp/${'x'.repeat(NAME.length - 32)}.jpg`;
        assert.equal(evil.length, NAME.length);
        return Buffer.from(good.toString('latin1').replaceAll(NAME, evil), 'latin1');
      },
      /cannot be read|invalid relative path|unexpected entry/,
    ],
    [
      'a symbolic link',
      () =>
        zipOf([
          { name: NAME, data: Buffer.from('/etc/passwd'), mode: 0o120777 },
          { name: 'manifest.json', data: manifest([item()]) },
        ]),
      /is not a plain file/,
    ],
    [
      'a zip bomb (an entry inflating past the bound)',
      () =>
        zipOf([
          { name: NAME, data: Buffer.concat([JPEG, Buffer.alloc(8 * 1024 * 1024)]) },
          { name: 'manifest.json', data: manifest([item()]) },
        ]),
      /inflates past 1048576 bytes/,
      { maxImageBytes: 1024 * 1024 },
    ],
    [
      'too much in all',
      () =>
        zipOf([
          { name: NAME, data: Buffer.concat([JPEG, Buffer.alloc(4096)]) },
          { name: 'manifest.json', data: manifest([item()]) },
        ]),
      /inflates past 1000 bytes in all/,
      { maxTotalBytes: 1000 },
    ],
    [
      'something that is not a JPEG',
      () =>
        zipOf([
          { name: NAME, data: Buffer.from('\x89PNG\r\n\x1a\n....') },
          { name: 'manifest.json', data: manifest([item()]) },
        ]),
      /is not a JPEG/,
    ],
    [
      'an entry of another kind',
      () =>
        zipOf([
          { name: 'run.sh', data: Buffer.from('#!/bin/sh') },
          { name: 'manifest.json', data: manifest([]) },
        ]),
      /unexpected entry "run.sh"/,
    ],
    ['no manifest', () => zipOf([{ name: NAME, data: JPEG }]), /has no manifest.json/],
    [
      'a manifest listing an image the archive lacks',
      () =>
        zipOf([
          { name: NAME, data: JPEG },
          { name: 'manifest.json', data: manifest([item(), item(`images/normal/${'1'.repeat(26)}.jpg`)]) },
        ]),
      /which the archive does not hold/,
    ],
    [
      'an image the manifest does not list',
      () =>
        zipOf([
          { name: NAME, data: JPEG },
          { name: 'manifest.json', data: manifest([]) },
        ]),
      /is not in manifest.json/,
    ],
    [
      'a label that is not its folder',
      () =>
        zipOf([
          { name: NAME, data: JPEG },
          { name: 'manifest.json', data: manifest([item(NAME, 'abnormal')]) },
        ]),
      /label is not its folder's/,
    ],
    ['not a ZIP at all', async () => Buffer.from('hello, this is not a zip file at all'), /the ZIP cannot be read/],
  ];
  for (const [what, make, message, limits] of refusals)
    it(`refuses ${what}`, async () => {
      const r = await attempt(await make(), { ...defaultDatasetLimits, ...limits });
      assert.ok(r.error, 'refused');
      assert.equal(r.error.code, 'INVALID_ARGUMENT');
      assert.match(r.error.message, /^not a Guardian dataset: /);
      assert.match(r.error.message, message);
    });
});
