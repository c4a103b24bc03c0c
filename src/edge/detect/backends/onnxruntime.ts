// ONNX Runtime (onnxruntime-node, CPU execution provider): the embedded default backend.
import './ort-privacy.ts';

import * as ort from 'onnxruntime-node';

import type { InferenceBackend, OutputTensor } from '../types.ts';

export async function createOnnxRuntimeBackend(modelPath: string, threads: number): Promise<InferenceBackend> {
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const inputName = session.inputNames[0] ?? 'images';
  const outputNames = [...session.outputNames];
  return {
    name: 'onnxruntime',
    device: 'CPU',
    async run(input: Float32Array, size: number): Promise<OutputTensor[]> {
      const tensor = new ort.Tensor('float32', input, [1, 3, size, size]); // wraps the buffer, no copy
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
