// Chooses the inference backend. If the one asked for cannot load, says why and falls back to ONNX Runtime.
import { availableParallelism } from 'node:os';

import { createOnnxRuntimeBackend } from './backends/onnxruntime.ts';
import { createOpenVinoBackend } from './backends/openvino.ts';
import type { InferenceBackend } from './types.ts';

export type BackendName = 'onnxruntime' | 'openvino';

export interface BackendChoice {
  backend: InferenceBackend;
  /** Set when the requested backend could not load and ONNX Runtime runs instead. */
  fallbackReason: string | null;
}

export async function createBackend(options: {
  backend: BackendName;
  modelPath: string;
  /** OpenVINO device: CPU, GPU (Intel iGPU), or a list like GPU,CPU. */
  device?: string;
  threads?: number;
}): Promise<BackendChoice> {
  const threads = options.threads ?? Math.min(4, availableParallelism());
  if (options.backend === 'openvino') {
    try {
      return {
        backend: await createOpenVinoBackend(options.modelPath, options.device ?? 'CPU', threads),
        fallbackReason: null,
      };
    } catch (err) {
      const reason = `OpenVINO could not load (${(err as Error).message}); using ONNX Runtime`;
      return { backend: await createOnnxRuntimeBackend(options.modelPath, threads), fallbackReason: reason };
    }
  }
  return { backend: await createOnnxRuntimeBackend(options.modelPath, threads), fallbackReason: null };
}
