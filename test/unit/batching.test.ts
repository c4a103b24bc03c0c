// Batching across cameras: batch-N copies of a model (withBatchSize) give, image for image, what the batch-1 model
// gives; a model with no batch axis (NanoDet) is refused, saying why; and the batching backend groups the frames that
// wait while an inference runs, splits the outputs back, never holds a lone frame, and fails every frame of a
// failed batch. Then the same through createBackend on both runtimes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { openSource } from '../../bindings/index.ts';
import { createBackend } from '../../src/edge/detect/backend.ts';
import { batchingBackend } from '../../src/edge/detect/batching.ts';
import { resolveModel } from '../../src/edge/detect/models.ts';
import type { InferenceBackend, OutputTensor } from '../../src/edge/detect/types.ts';
import { withBatchSize } from '../../src/shared/onnx-edit.ts';
import { media } from '../helpers.ts';

/** A backend that answers after `ms` with, per image, [its first value, its batch size]; records its calls. */
function fakeBackend(ms: number, calls: number[], fail = false): InferenceBackend {
  return {
    name: 'onnxruntime',
    device: 'CPU',
    async run(input: Float32Array, _size: number, batch = 1): Promise<OutputTensor[]> {
      calls.push(batch);
      await new Promise((r) => setTimeout(r, ms));
      if (fail) throw new Error('inference failed');
      const per = input.length / batch;
      const data = new Float32Array(batch * 2);
      for (let i = 0; i < batch; i++) data.set([input[i * per] as number, batch], i * 2);
      return [{ data, dims: [batch, 2] }];
    },
    async close() {},
  };
}
const image = (v: number) => new Float32Array(12).fill(v);

describe('batching across cameras', () => {
  it('groups the frames that wait, splits the outputs back, and runs a lone frame at once', async () => {
    const calls: number[] = [];
    const single = fakeBackend(20, calls);
    const b = batchingBackend(
      single,
      new Map([
        [2, single],
        [4, single],
      ]),
    );
    const lone = await b.run(image(7), 2);
    assert.deepEqual([...(lone[0] as OutputTensor).data], [7, 1]);
    assert.deepEqual(calls, [1], 'a lone frame is not held back for a batch');
    calls.length = 0;
    // 7 frames at once: as many as wait run together, in the largest batch models there are (4, 2, then 1).
    const outs = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((v) => b.run(image(v), 2)));
    assert.deepEqual(calls, [4, 2, 1]);
    assert.deepEqual(
      outs.map((o) => [...(o[0] as OutputTensor).data]),
      [
        [1, 4],
        [2, 4],
        [3, 4],
        [4, 4],
        [5, 2],
        [6, 2],
        [7, 1],
      ],
      'each frame gets its own share of the batch output, in order',
    );
    assert.deepEqual(outs[3]?.[0]?.dims, [1, 2]);
    assert.deepEqual(b.batchStats, { images: 8, runs: 4, bySize: { 1: 2, 2: 1, 4: 1 } });
    // A frame that arrives while a batch runs waits for it, then runs in the next (here alone).
    calls.length = 0;
    const first = b.run(image(1), 2);
    await new Promise((r) => setTimeout(r, 5));
    await Promise.all([first, b.run(image(2), 2), b.run(image(3), 2)]);
    assert.deepEqual(calls, [1, 2]);
  });

  it('fails every frame of a failed batch, and goes on with the next', async () => {
    const calls: number[] = [];
    const good = fakeBackend(5, calls);
    const bad = fakeBackend(5, calls, true);
    const b = batchingBackend(good, new Map([[2, bad]]));
    const results = await Promise.allSettled([1, 2, 3].map((v) => b.run(image(v), 2)));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'rejected'],
    );
    assert.deepEqual([...((await b.run(image(9), 2))[0] as OutputTensor).data], [9, 1]);
  });

  it('withBatchSize: a batch-N YOLOX gives each image what the batch-1 model gives; NanoDet has no batch axis', async () => {
    const spec = resolveModel('yolox');
    const bytes = readFileSync(spec.path);
    const before = Buffer.from(bytes);
    const four = withBatchSize(bytes, 4, 'yolox');
    assert.ok(bytes.equals(before), 'the model read is not modified');
    assert.ok(Math.abs(four.length - bytes.length) < bytes.length * 0.05);
    assert.throws(() => withBatchSize(readFileSync(resolveModel('nanodet').path), 2, 'nanodet'), {
      code: 'UNSUPPORTED_INPUT',
      message: /nanodet has no batch axis/,
    });
    assert.throws(() => withBatchSize(bytes, 1), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => withBatchSize(new Uint8Array([1, 2, 3]), 2), { code: 'CORRUPT_DATA' });

    const src = await openSource(media.vtest, { fps: 5, tensor: spec.tensor });
    const tensors: Float32Array[] = [];
    for await (const f of src) {
      tensors.push(new Float32Array(f.tensor?.data as Float32Array));
      if (tensors.length >= 4) break;
    }
    await src.close();
    for (const name of ['onnxruntime', 'openvino'] as const) {
      const { backend: one, fallbackReason } = await createBackend({ backend: name, modelPath: spec.path, threads: 1 });
      if (fallbackReason) {
        console.log(`      skipped ${name}: ${fallbackReason}`);
        await one.close();
        continue;
      }
      const { backend: batched, batchNote } = await createBackend({
        backend: name,
        modelPath: spec.path,
        threads: 1,
        batch: 4,
      });
      assert.equal(batchNote, null);
      const together = await Promise.all(tensors.map((t) => batched.run(t, spec.size)));
      const stats = (batched as unknown as { batchStats: { bySize: Record<number, number> } }).batchStats;
      assert.ok(stats.bySize[2] || stats.bySize[4], `${name}: some frames ran as a batch: ${JSON.stringify(stats)}`);
      for (const [i, t] of tensors.entries()) {
        const alone = (await one.run(t, spec.size))[0] as OutputTensor;
        const share = together[i]?.[0] as OutputTensor;
        assert.deepEqual(share.dims, alone.dims);
        let maxDiff = 0;
        for (let k = 0; k < alone.data.length; k++)
          maxDiff = Math.max(maxDiff, Math.abs((alone.data[k] as number) - (share.data[k] as number)));
        assert.ok(maxDiff < 1e-3, `${name} image ${i}: differs by ${maxDiff}`);
      }
      await Promise.all([one.close(), batched.close()]);
    }
    const nanodet = await createBackend({
      backend: 'onnxruntime',
      modelPath: resolveModel('nanodet').path,
      threads: 1,
      batch: 4,
    });
    await nanodet.backend.close();
    assert.match(String(nanodet.batchNote), /no batching: .*no batch axis/);
  });
});
