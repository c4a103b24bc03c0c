// Detect bench against the plain runtimes (issue #23): the product's inference backends (createBackend, the same
// InferenceBackend the pipeline calls) timed against a plain ONNX Runtime session and a plain OpenVINO compiled model
// (bench/support/ov_plain.c, the C API with nothing around it) on the same real model tensors, with the same thread
// settings and nothing else running. Rounds alternate plain and product so that machine noise hits both.
import '../src/edge/detect/backends/ort-privacy.ts';

import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

import * as ort from 'onnxruntime-node';

import { openSource } from '../bindings/index.ts';
import { type BackendName, createBackend } from '../src/edge/detect/backend.ts';
import { onnxRuntimeSessionOptions } from '../src/edge/detect/backends/onnxruntime.ts';
import { openVinoLibDir } from '../src/edge/detect/backends/openvino.ts';
import { type ModelSpec, resolveModel } from '../src/edge/detect/models.ts';
import { projectRoot, sharedPath } from '../src/shared/paths.ts';

const TENSORS = 30;
const ROUNDS = 12;
const FIRST_WARMUP = 10; // untimed inferences on each side before the first round
const ROUND_WARMUP = 3; // and before each side's every round (the other side just had the cores and caches)

/** Percentile by the same rule as bench/detect.ts's latency(): the sorted sample at floor(p/100 * n). */
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** One side of a comparison: `warmup` untimed inferences, then one timed inference per tensor, in ms. */
type Round = (warmup: number) => Promise<number[]>;

export interface PlainRuntimeComparison {
  plainMs: { p50: number; p95: number };
  pipelineMs: { p50: number; p95: number };
  /**
   * The median over rounds of (plain p50 / product p50 of that round): 1.0 = the product adds nothing. Per round,
   * so that a burst of load from elsewhere, which lands on one side of one round, moves one ratio of many.
   */
  ratio: number;
  /** plainMs.p50 / pipelineMs.p50, all rounds pooled. */
  pooledP50Ratio: number;
  roundRatios: number[];
  samplesPerSide: number;
}

export type PlainRuntimeResult = PlainRuntimeComparison | { error: string };

async function captureTensors(spec: ModelSpec, count: number): Promise<Float32Array[]> {
  const src = await openSource(sharedPath('media', 'vtest.mp4'), { fps: 5, tensor: spec.tensor, motionWidth: 160 });
  const tensors: Float32Array[] = [];
  try {
    for await (const frame of src) {
      if (!frame.tensor) continue;
      // A copy: the frame's buffer is the source's, and the source is closed before anything is timed.
      tensors.push(new Float32Array(frame.tensor.data as Float32Array));
      if (tensors.length >= count) break;
    }
  } finally {
    await src.close();
  }
  if (tensors.length < count) throw new Error(`only ${tensors.length} tensors from vtest.mp4`);
  return tensors;
}

const timeEach = async (tensors: Float32Array[], warmup: number, run: (t: Float32Array) => Promise<unknown>) => {
  for (let w = 0; w < warmup; w++) await run(tensors[w % tensors.length] as Float32Array);
  const ms: number[] = [];
  for (const t of tensors) {
    const t0 = performance.now();
    await run(t);
    ms.push(performance.now() - t0);
  }
  return ms;
};

async function interleave(
  plain: Round,
  pipeline: Round,
  label: string,
  progress: (m: string) => void,
): Promise<PlainRuntimeComparison> {
  const gc = (globalThis as { gc?: () => void }).gc;
  await plain(FIRST_WARMUP);
  await pipeline(FIRST_WARMUP);
  const all = { plain: [] as number[], pipeline: [] as number[] };
  const roundRatios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    progress(`detect: plain runtime ${label} round ${r + 1}/${ROUNDS}`);
    const got = { plain: [] as number[], pipeline: [] as number[] };
    // ABBA order: neither side always runs first after the other.
    for (const side of r % 2 === 0 ? (['plain', 'pipeline'] as const) : (['pipeline', 'plain'] as const)) {
      gc?.(); // a full collection now rather than during a timed inference
      got[side] = await (side === 'plain' ? plain : pipeline)(ROUND_WARMUP);
    }
    all.plain.push(...got.plain);
    all.pipeline.push(...got.pipeline);
    roundRatios.push(pct(got.plain, 50) / pct(got.pipeline, 50));
  }
  const plainP50 = pct(all.plain, 50);
  const pipelineP50 = pct(all.pipeline, 50);
  return {
    plainMs: { p50: r2(plainP50), p95: r2(pct(all.plain, 95)) },
    pipelineMs: { p50: r2(pipelineP50), p95: r2(pct(all.pipeline, 95)) },
    ratio: r3(median(roundRatios)),
    pooledP50Ratio: r3(plainP50 / pipelineP50),
    roundRatios: roundRatios.map(r3),
    samplesPerSide: all.plain.length,
  };
}

async function productBackend(name: BackendName, spec: ModelSpec, threads: number) {
  const { backend, fallbackReason } = await createBackend({ backend: name, modelPath: spec.path, threads });
  if (fallbackReason) {
    await backend.close();
    throw new Error(fallbackReason);
  }
  return backend;
}

async function compareOnnxRuntime(
  spec: ModelSpec,
  tensors: Float32Array[],
  threads: number,
  progress: (m: string) => void,
) {
  // Exactly the product's session options (src/edge/detect/backends/onnxruntime.ts), used directly.
  const session = await ort.InferenceSession.create(spec.path, onnxRuntimeSessionOptions(threads));
  try {
    const backend = await productBackend('onnxruntime', spec, threads);
    try {
      const inputName = session.inputNames[0] ?? 'images';
      const feeds = new Map(
        tensors.map((t) => [t, { [inputName]: new ort.Tensor('float32', t, [1, 3, spec.size, spec.size]) }]),
      );
      return await interleave(
        (w) => timeEach(tensors, w, (t) => session.run(feeds.get(t) as ort.InferenceSession.FeedsType)),
        (w) => timeEach(tensors, w, (t) => backend.run(t, spec.size)),
        'onnxruntime',
        progress,
      );
    } finally {
      await backend.close();
    }
  } finally {
    await session.release();
  }
}

/** Compiles bench/support/ov_plain.c into dir; throws with the reason when it cannot. */
function buildOvPlain(dir: string): string {
  const libDir = openVinoLibDir();
  const lib = existsSync(libDir) ? readdirSync(libDir).find((f) => /^libopenvino_c\.so(\.\d+)*$/.test(f)) : undefined;
  if (!lib)
    throw new Error(`OpenVINO runtime not found in ${libDir} (npm run setup unpacks it from the openvino wheel)`);
  const include = join(dirname(libDir), 'include');
  if (!existsSync(join(include, 'openvino', 'c', 'openvino.h')))
    throw new Error(`OpenVINO C headers not found in ${include} (npm run setup unpacks them from the openvino wheel)`);
  const cc = process.env.CC || 'cc';
  const out = join(dir, 'ov_plain');
  const args = ['-O2', '-std=c11', '-I', include, '-o', out, join(projectRoot, 'bench', 'support', 'ov_plain.c')];
  args.push(join(libDir, lib), `-Wl,-rpath,${libDir}`, `-Wl,-rpath-link,${libDir}`);
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`no C compiler (${cc}: ${r.error.message})`);
  if (r.status !== 0) throw new Error(`compiling bench/support/ov_plain.c failed: ${r.stderr.trim()}`);
  return out;
}

async function compareOpenVino(
  spec: ModelSpec,
  tensors: Float32Array[],
  threads: number,
  progress: (m: string) => void,
) {
  const dir = mkdtempSync(join(tmpdir(), 'guardian-ov-plain-'));
  let child: ChildProcessWithoutNullStreams | undefined;
  try {
    const exe = buildOvPlain(dir);
    const file = join(dir, 'tensors.f32');
    writeFileSync(file, Buffer.concat(tensors.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength))));
    const proc = spawn(exe, [spec.path, file, String(spec.size), String(tensors.length), String(threads)]);
    child = proc;
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
    const nextLine = async () => {
      const { value, done } = await lines.next();
      if (done) throw new Error(`ov_plain ended: ${stderr.trim() || 'no output'}`);
      return value as string;
    };
    if ((await nextLine()) !== 'ready') throw new Error(`ov_plain did not start: ${stderr.trim()}`);
    const plain: Round = async (w) => {
      proc.stdin.write(`${w}\n`);
      return (JSON.parse(await nextLine()) as { ms: number[] }).ms;
    };
    // The product's backend only after the plain model is compiled: nothing else runs during the rounds.
    const backend = await productBackend('openvino', spec, threads);
    try {
      return await interleave(
        plain,
        (w) => timeEach(tensors, w, (t) => backend.run(t, spec.size)),
        'openvino',
        progress,
      );
    } finally {
      await backend.close();
    }
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.stdin.end(); // EOF: ov_plain frees everything and exits
      const timer = setTimeout(() => child?.kill(), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const attempt = async (f: () => Promise<PlainRuntimeComparison>): Promise<PlainRuntimeResult> => {
  try {
    return await f();
  } catch (err) {
    return { error: (err as Error).message };
  }
};

export async function benchPlainRuntime(progress: (m: string) => void) {
  const threads = Math.min(4, availableParallelism()); // the product's default (createBackend)
  const spec = resolveModel('yolox');
  const load0 = loadavg()[0] ?? 0;
  progress(`detect: plain runtime, capturing ${TENSORS} tensors`);
  const tensors = await captureTensors(spec, TENSORS);
  // One runtime at a time: the other's session does not exist while these rounds run.
  const onnxruntime = await attempt(() => compareOnnxRuntime(spec, tensors, threads, progress));
  const openvino = await attempt(() => compareOpenVino(spec, tensors, threads, progress));
  const ratioOf = (r: PlainRuntimeResult) => ('ratio' in r ? r.ratio : null);
  return {
    model: 'yolox',
    threads,
    tensors: tensors.length,
    rounds: ROUNDS,
    onnxruntime,
    openvino,
    plainRuntimeRatio: { onnxruntime: ratioOf(onnxruntime), openvino: ratioOf(openvino) },
    target: '>= 0.95',
    // Other processes on the machine are not this bench's to stop: their load is recorded instead.
    loadAverage1m: { before: r2(load0), after: r2(loadavg()[0] ?? 0), cpus: availableParallelism() },
    description:
      `${tensors.length} YOLOX-nano tensors captured from vtest.mp4 (5 fps, letterboxed ${spec.size}x${spec.size}), ` +
      'the source closed before timing: no decoding or conversion runs, only one runtime at a time. pipelineMs = the ' +
      "product's backend (createBackend, backend.run(tensor, size), timed as DetectionPipeline times inferenceMs; " +
      "OpenVINO's through koffi on koffi's worker thread, outputs copied out). plainMs = ort.InferenceSession.run " +
      'with the same session options in the same process; for OpenVINO bench/support/ov_plain.c, the C API in a ' +
      'process of its own, timing the synchronous ov_infer_request_infer alone, the model compiled with the same ' +
      `properties (PERFORMANCE_HINT LATENCY, INFERENCE_PRECISION_HINT f32, INFERENCE_NUM_THREADS ${threads}). Each ` +
      `side: ${FIRST_WARMUP} warm-up inferences, then ${ROUNDS} rounds alternating plain and product (ABBA order), ` +
      `each side ${ROUND_WARMUP} untimed inferences then one timed per tensor. ratio = the median over rounds of ` +
      '(plain p50 / product p50 of the round), 1.0 = no overhead; pooledP50Ratio = plainMs.p50 / pipelineMs.p50.',
  };
}
