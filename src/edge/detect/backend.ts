// Chooses the inference backend. If the one asked for cannot load, says why and falls back to ONNX Runtime.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

import { withBatchSize } from '../../shared/onnx-edit.ts';
import { createOnnxRuntimeBackend } from './backends/onnxruntime.ts';
import { createOpenVinoBackend } from './backends/openvino.ts';
import { batchingBackend } from './batching.ts';
import type { InferenceBackend } from './types.ts';

export type BackendName = 'onnxruntime' | 'openvino';

export interface BackendChoice {
  backend: InferenceBackend;
  /** Set when the requested backend could not load and ONNX Runtime runs instead. */
  fallbackReason: string | null;
  /** Set when batching was asked for and the model cannot batch (it runs one image at a time). */
  batchNote?: string | null;
}

export async function createBackend(options: {
  backend: BackendName;
  modelPath: string;
  /** OpenVINO device: CPU, GPU (Intel iGPU), or a list like GPU,CPU. */
  device?: string;
  threads?: number;
  /** Largest batch across cameras (1: none). Batch models of 2, 4, ... up to it are made from the model. */
  batch?: number;
}): Promise<BackendChoice> {
  const single = await createSingle(options);
  const max = options.batch ?? 1;
  if (max < 2) return single;
  let bytes: Uint8Array;
  const copies: [number, Uint8Array][] = [];
  try {
    bytes = readFileSync(options.modelPath);
    for (let n = 2; n <= max; n *= 2) copies.push([n, withBatchSize(bytes, n, options.modelPath)]);
  } catch (err) {
    return { ...single, batchNote: `no batching: ${(err as Error).message}` };
  }
  const name = single.backend.name;
  const batched = new Map<number, InferenceBackend>();
  for (const [n, model] of copies)
    batched.set(n, (await createSingle({ ...options, backend: name, modelPath: '' }, model)).backend);
  return { ...single, backend: batchingBackend(single.backend, batched), batchNote: null };
}

async function createSingle(
  options: { backend: BackendName; modelPath: string; device?: string; threads?: number },
  bytes?: Uint8Array,
): Promise<BackendChoice> {
  const threads = options.threads ?? Math.min(4, availableParallelism());
  const model = bytes ?? options.modelPath;
  if (options.backend === 'openvino') {
    try {
      return {
        backend: await createOpenVinoBackend(model, options.device ?? 'CPU', threads),
        fallbackReason: null,
      };
    } catch (err) {
      const reason = `OpenVINO could not load (${(err as Error).message}); using ONNX Runtime`;
      return { backend: await createOnnxRuntimeBackend(model, threads), fallbackReason: reason };
    }
  }
  return { backend: await createOnnxRuntimeBackend(model, threads), fallbackReason: null };
}
