// The server's side of a dataset upload without the link: the bytes must match their header, each edge has a quota,
// an image that does not decode is refused, a replay of the same upload finds the same dataset, and whatever is
// refused leaves nothing in the datasets folder.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';

import yazl from 'yazl';

import { openSource } from '../../bindings/index.ts';
import { openDatabase } from '../../src/shared/db.ts';
import { sharedPath } from '../../src/shared/paths.ts';
import { vmMigrations } from '../../src/vm/cache/schema.ts';
import { DatasetRefusal, VmDatasets } from '../../src/vm/models/datasets.ts';
import { tempDir } from '../helpers.ts';

async function jpeg(): Promise<Buffer> {
  const src = await openSource(sharedPath('media', 'vtest.mp4'), { snapshotFrames: 1 });
  await src.read();
  const j = Buffer.from(await src.snapshot({ width: 320 }));
  await src.close();
  return j;
}

function zipOf(images: Buffer[], labels: string[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const items = images.map((im, i) => {
    const file = `images/${labels[i]}/01ARZ3NDEKTSV4RRFFQ69G5F${String(i).padStart(2, '0')}.jpg`;
    zip.addBuffer(im, file);
    return { file, label: labels[i], cameraId: 'yard', takenMs: i };
  });
  zip.addBuffer(Buffer.from(JSON.stringify({ format: 'guardian-dataset/1', createdMs: 1, items })), 'manifest.json');
  zip.end();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

const header = (uploadId: string, body: Buffer) => ({
  uploadId,
  name: 'porch',
  size: body.length,
  sha256: createHash('sha256').update(body).digest('hex'),
});
async function* chunks(body: Buffer) {
  for (let i = 0; i < body.length; i += 1000) yield body.subarray(i, i + 1000);
}

describe("the server's datasets", () => {
  let tmp: ReturnType<typeof tempDir>;
  let good: Buffer;
  before(async () => {
    const j = await jpeg();
    good = await zipOf([j, j, j], ['normal', 'normal', 'abnormal']);
  });
  beforeEach(() => {
    tmp = tempDir('guardian-vm-datasets-');
  });
  afterEach(() => tmp.remove());

  const refusal = async (p: Promise<unknown>, code: DatasetRefusal['code'], message: RegExp) => {
    const err = await p.then(
      () => assert.fail('accepted'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof DatasetRefusal, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
  };

  it('stores a good upload once; a replay of it finds the same dataset', async () => {
    const d = new VmDatasets(openDatabase(':memory:', vmMigrations), tmp.path, () => 10_000_000);
    const a = await d.receive('edge-a', header('u1', good), chunks(good));
    assert.deepEqual(a.labels, { normal: 2, abnormal: 1 });
    assert.deepEqual(a.cameras, ['yard']);
    const again = await d.receive('edge-a', header('u1', good), chunks(good));
    assert.equal(again.datasetId, a.datasetId);
    assert.equal(d.list().length, 1);
    assert.equal(d.list('edge-b').length, 0, "another edge's list is its own");
  });

  it('refuses bytes that do not match their header, a full quota and an image that does not decode; nothing stays', async () => {
    const d = new VmDatasets(openDatabase(':memory:', vmMigrations), tmp.path, () => good.length + 10);
    const cut = good.subarray(0, good.length - 5);
    await refusal(d.receive('edge-a', header('u1', good), chunks(cut)), 'DATA_LOSS', /does not match its header/);
    await d.receive('edge-a', header('u2', good), chunks(good));
    await refusal(
      d.receive('edge-a', header('u3', good), chunks(good)),
      'RESOURCE_EXHAUSTED',
      /quota of this edge is full/,
    );
    // Another edge has a quota of its own; a JPEG signature with nothing decodable after it is refused.
    const fake = await zipOf([Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64)])], ['normal']);
    await refusal(d.receive('edge-b', header('u4', fake), chunks(fake)), 'INVALID_ARGUMENT', /does not decode/);
    assert.deepEqual(
      readdirSync(d.root).filter((n) => n.startsWith('.')),
      [],
      'no temporary file is left',
    );
    assert.equal(readdirSync(d.root).length, 1, 'only the stored dataset');
  });
});
