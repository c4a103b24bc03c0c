// ONNX Runtime (onnxruntime-node, CPU execution provider): the embedded default backend.
import './ort-privacy.ts';

import * as ort from 'onnxruntime-node';

import type { InferenceBackend, OutputTensor } from '../types.ts';

/** The product's session options (the plain-runtime bench uses the same). */
export function onnxRuntimeSessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Intra-op threads that spin after each inference hold the cores that the cameras' decoders need: YOLOX at 5 fps
    // measured 40 ms of CPU per inference spinning and 16 ms without, for about 3 ms more latency.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/** `model`: a path, or the model's bytes (an edited copy, such as a batch-N one). */
export async function createOnnxRuntimeBackend(model: string | Uint8Array, threads: number): Promise<InferenceBackend> {
  const options = onnxRuntimeSessionOptions(threads);
  // (Two overloads: a path or bytes.)
  const session =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options);
  const inputName = session.inputNames[0] ?? 'images';
  const outputNames = [...session.outputNames];
  return {
    name: 'onnxruntime',
    device: 'CPU',
    async run(input: Float32Array, size: number, batch = 1): Promise<OutputTensor[]> {
      const tensor = new ort.Tensor('float32', input, [batch, 3, size, size]); // wraps the buffer, no copy
      const result = await session.run({ [inputName]: tensor });
      return outputNames.map((name) => {
        const t = result[name];
        if (!t) throw new Error(`model output ${name} missing`);
        return { data: t.data as Float32Array, dims: t.dims };
      });
    },
    async close() {
      await session.release();
    },
  };
}
