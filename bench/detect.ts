// Detection benchmark: inference latency per model and backend, pre/post-processing share, OpenVINO/ONNX Runtime
// ratio, the product's inference against the plain runtimes (plain-runtime.ts), and the cost per camera: realistic
// capacity, idle decoding and batching (capacity.ts).
import { openSource } from '../bindings/index.ts';
import { type BackendName, createBackend } from '../src/edge/detect/backend.ts';
import { resolveModel } from '../src/edge/detect/models.ts';
import { DetectionPipeline, defaultPipelineOptions } from '../src/edge/detect/pipeline.ts';
import { sharedPath } from '../src/shared/paths.ts';
import { benchCapacity } from './capacity.ts';
import { benchPlainRuntime } from './plain-runtime.ts';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0) * 100) / 100;
};

async function latency(model: 'yolox' | 'nanodet', backendName: BackendName, progress: (m: string) => void) {
  const spec = resolveModel(model);
  const { backend, fallbackReason } = await createBackend({ backend: backendName, modelPath: spec.path });
  if (fallbackReason) return { error: fallbackReason };
  const src = await openSource(sharedPath('media', 'vtest.mp4'), { fps: 5, tensor: spec.tensor, motionWidth: 160 });
  const infer: number[] = [];
  const convert: number[] = [];
  const post: number[] = [];
  // The product's own pipeline, on every frame (no motion gating) and on the full frame.
  const pipeline = new DetectionPipeline(spec, backend, {
    ...defaultPipelineOptions,
    motion: { enabled: false },
    crop: 'full',
  });
  let n = 0;
  for await (const f of src) {
    if (n++ >= 110) break;
    progress(`detect: ${model}/${backendName} ${n}/110`);
    const r = await pipeline.process(f, src);
    if (n > 10) {
      // the first inferences warm caches up
      infer.push(r.timings.inferenceMs);
      post.push(r.timings.postMs);
      convert.push(r.timings.tensorMs); // model pre-processing: the tensor (not the motion plane)
    }
  }
  await src.close();
  await backend.close();
  const p50 = pct(infer, 50);
  return {
    inferenceMs: { p50, p95: pct(infer, 95) },
    preprocessMs: { p50: pct(convert, 50), p95: pct(convert, 95) },
    postprocessMs: { p50: pct(post, 50), p95: pct(post, 95) },
    prePostShareOfInference: Math.round(((pct(convert, 50) + pct(post, 50)) / p50) * 1000) / 1000,
  };
}

export async function benchDetect(progress: (m: string) => void) {
  const latencyTable: Record<string, unknown> = {};
  for (const model of ['yolox', 'nanodet'] as const)
    for (const b of ['onnxruntime', 'openvino'] as const)
      latencyTable[`${model}/${b}`] = await latency(model, b, progress);
  const ratio = (model: string) => {
    const o = latencyTable[`${model}/onnxruntime`] as { inferenceMs?: { p50: number } };
    const v = latencyTable[`${model}/openvino`] as { inferenceMs?: { p50: number } };
    return o.inferenceMs && v.inferenceMs ? Math.round((o.inferenceMs.p50 / v.inferenceMs.p50) * 1000) / 1000 : null;
  };
  // Realistic capacity, idle decoding and batching (bench/capacity.ts), with the faster backend for YOLOX.
  const faster: BackendName = (ratio('yolox') ?? 0) > 1 ? 'openvino' : 'onnxruntime';
  const costPerCamera = await benchCapacity(progress, faster);
  const plainRuntime = await benchPlainRuntime(progress);
  return {
    latency: latencyTable,
    latencyNote:
      'latency.* inference figures are taken while the same process decodes vtest.mp4 on the same cores; plainRuntime.* with nothing else running',
    plainRuntime,
    plainRuntimeRatio: plainRuntime.plainRuntimeRatio,
    openvinoSpeedupOverOnnxruntime: { yolox: ratio('yolox'), nanodet: ratio('nanodet') },
    targetPrePostShare: '<= 0.10',
    ...costPerCamera,
  };
}
