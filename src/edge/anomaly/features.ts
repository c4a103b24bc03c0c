// Per-frame patch features for the anomaly model, on a G×G grid over the whole frame (cell (gx, gy) covers the same
// fraction of the frame in every cue):
// - appearance: NanoDet-m's ShuffleNetV2 stride-16 feature map ([1,232,20,20] for the 320 input, see
//   ../shared/models/README.md), exposed as the only output of a sub-model cut from the shipped ONNX file in memory;
// - motion: mean absolute difference of the grey motion plane (the media core's 160-px plane) between this frame and
//   the previous sampled one, per cell. Only the previous frame is used: the features are causal.
import '../detect/backends/ort-privacy.ts';

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import * as ort from 'onnxruntime-node';

import { type Frame, tensorPresets } from '../../../bindings/index.ts';
import { GuardianError } from '../../shared/errors.ts';
import { addGraphOutputs, readGraph } from '../../shared/onnx-edit.ts';
import { sharedPath } from '../../shared/paths.ts';
import { createOnnxRuntimeBackend } from '../detect/backends/onnxruntime.ts';
import { createOpenVinoBackend } from '../detect/backends/openvino.ts';
import type { InferenceBackend } from '../detect/types.ts';

export const backbonePreset = tensorPresets.nanodet;
/** Width of the grey plane the motion cue uses (the media process computes the same plane for motion and tamper). */
export const MOTION_WIDTH = 160;

export function defaultBackbonePath(): string {
  return sharedPath('models', 'nanodet-m-320.onnx');
}

export interface BackboneInfo {
  /** The tensor exposed as the feature map, its channels and grid (square). */
  tensor: string;
  channels: number;
  grid: number;
  /** sha256 of the ONNX file, so a model is never scored with features of another backbone. */
  sha256: string;
}

/** What a model expects of its backbone; found by `probeBackbone` at fit time, checked at load. */
export interface BackboneSpec {
  channels: number;
  grid: number;
}

/**
 * Finds the feature map: the last tensor in graph order with shape [1, channels, grid, grid] (the output of the
 * backbone stage at that stride). One run of a copy exposing every candidate; ShuffleNetV2's stage-3 output is
 * named "623" in the shipped file, but another export of the same network may name it otherwise.
 */
export async function probeBackbone(modelPath: string, want: BackboneSpec): Promise<BackboneInfo> {
  const bytes = readModel(modelPath);
  const { nodes } = readGraph(bytes, modelPath);
  const candidates = [
    ...new Set(nodes.filter((n) => !['Constant', 'Shape', 'Gather'].includes(n.opType)).flatMap((n) => n.outputs)),
  ];
  const session = await ort.InferenceSession.create(addGraphOutputs(bytes, candidates, { replace: true }), {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    graphOptimizationLevel: 'basic',
  });
  try {
    const size = backbonePreset.size;
    const out = await session.run({
      [session.inputNames[0] ?? 'image']: new ort.Tensor('float32', new Float32Array(3 * size * size), [
        1,
        3,
        size,
        size,
      ]),
    });
    let found: string | undefined;
    for (const name of candidates) {
      const d = out[name]?.dims;
      if (d?.length === 4 && d[0] === 1 && d[1] === want.channels && d[2] === want.grid && d[3] === want.grid)
        found = name;
    }
    if (!found)
      throw new GuardianError(
        'INVALID_ARGUMENT',
        `${modelPath} has no [1,${want.channels},${want.grid},${want.grid}] feature map: expected NanoDet-m 320 (ShuffleNetV2)`,
      );
    return { tensor: found, channels: want.channels, grid: want.grid, sha256: sha256(bytes) };
  } finally {
    await session.release();
  }
}

function readModel(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new GuardianError(
      code === 'ENOENT' ? 'NOT_FOUND' : 'IO_ERROR',
      `backbone model ${path} cannot be read (${(err as Error).message})`,
    );
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The per-frame features of one clip or camera: holds the previous motion plane (the only state). */
export interface PatchFeatures {
  /** Patch-major appearance vectors, [grid², channels]. */
  appearance: Float32Array;
  /** Motion energy per cell, [grid²] (0 on the first frame). */
  motion: Float32Array;
  /** Milliseconds spent in the backbone and in the motion cue. */
  backboneMs: number;
  motionMs: number;
}

export class FeatureExtractor {
  private constructor(
    private readonly backend: InferenceBackend,
    readonly info: BackboneInfo,
  ) {}

  /** Which runtime runs the backbone (OpenVINO where it loads: 10 against 16 ms per frame on one thread here). */
  get runtime(): InferenceBackend['name'] {
    return this.backend.name;
  }

  /** Loads the backbone sub-model; refuses a file whose hash is not the one the model was fitted with. */
  static async create(modelPath: string, info: BackboneInfo, threads = 1): Promise<FeatureExtractor> {
    const bytes = readModel(modelPath);
    const hash = sha256(bytes);
    if (hash !== info.sha256)
      throw new GuardianError(
        'INVALID_ARGUMENT',
        `backbone ${modelPath} is not the one this anomaly model was fitted with (sha256 ${hash.slice(0, 12)}…, expected ${info.sha256.slice(0, 12)}…): fit the model again`,
      );
    const sub = addGraphOutputs(bytes, [info.tensor], { replace: true });
    let backend: InferenceBackend;
    try {
      backend = await createOpenVinoBackend(sub, 'CPU', threads);
    } catch {
      backend = await createOnnxRuntimeBackend(sub, threads); // OpenVINO absent or refused: the same features
    }
    return new FeatureExtractor(backend, info);
  }

  /** A fresh per-clip state (the previous motion plane). */
  stream(): FeatureStream {
    return new FeatureStream(this);
  }

  /** The feature map of one backbone tensor, transposed to patch-major [grid², channels]. */
  async appearance(tensor: Float32Array): Promise<Float32Array> {
    const [out] = await this.backend.run(tensor, backbonePreset.size);
    const map = out?.data;
    const { channels: c, grid: g } = this.info;
    const cells = g * g;
    if (!map || map.length !== c * cells)
      throw new GuardianError('INTERNAL', `backbone output ${this.info.tensor} is not [1,${c},${g},${g}]`);
    const rows = new Float32Array(cells * c);
    for (let ch = 0; ch < c; ch++) {
      const src = ch * cells;
      for (let p = 0; p < cells; p++) rows[p * c + ch] = map[src + p] as number;
    }
    return rows;
  }

  async close(): Promise<void> {
    await this.backend.close();
  }
}

export class FeatureStream {
  private previous: Uint8Array | undefined;

  constructor(private readonly extractor: FeatureExtractor) {}

  /** A frame that is not scored (live, when the previous one is still being scored): only its motion plane is kept,
   *  so the next frame's motion is measured over one sampled interval as in the fit. */
  observe(frame: Pick<Frame, 'motion'>): void {
    if (frame.motion) this.previous = frame.motion.data;
  }

  async next(frame: Frame): Promise<PatchFeatures> {
    const tensor = frame.tensor?.data;
    const plane = frame.motion;
    if (!(tensor instanceof Float32Array) || !plane)
      throw new GuardianError('INTERNAL', 'the anomaly model needs frames with a NanoDet tensor and a motion plane');
    const t0 = performance.now();
    // Taken before the backbone runs: a frame observed meanwhile is the next one's previous, not this one's.
    const previous = this.previous;
    this.previous = plane.data;
    const appearance = await this.extractor.appearance(tensor);
    const t1 = performance.now();
    const motion = motionEnergy(plane.data, previous, plane.width, plane.height, this.extractor.info.grid);
    return { appearance, motion, backboneMs: t1 - t0, motionMs: performance.now() - t1 };
  }
}

/** Mean |current − previous| grey level per cell of a grid×grid partition of the plane; zeros without a previous. */
export function motionEnergy(
  current: Uint8Array,
  previous: Uint8Array | undefined,
  width: number,
  height: number,
  grid: number,
): Float32Array {
  const cells = grid * grid;
  const sum = new Float32Array(cells);
  if (!previous || previous.length !== current.length) return sum;
  const count = new Float32Array(cells);
  for (let y = 0; y < height; y++) {
    const row = Math.floor((y * grid) / height) * grid;
    for (let x = 0; x < width; x++) {
      const p = row + Math.floor((x * grid) / width);
      const i = y * width + x;
      sum[p] = (sum[p] as number) + Math.abs((current[i] as number) - (previous[i] as number));
      count[p] = (count[p] as number) + 1;
    }
  }
  for (let p = 0; p < cells; p++) sum[p] = (sum[p] as number) / Math.max(1, count[p] as number);
  return sum;
}
