// Fitting a knn-patch model from normal clips only. Every 4th clip (at least one) is held out: the banks are learned
// from the others, and the held-out clips, scored like live video, give the calibration of each cue and the
// threshold (a percentile of their smoothed scores). Nothing here looks at anomalous footage.
import { basename, resolve } from 'node:path';

import { GuardianError } from '../../shared/errors.ts';
import { seededRandom } from '../../shared/seeded-random.ts';
import { type ClipInfo, clipFrames, listClips } from './dataset.ts';
import { defaultBackbonePath, FeatureExtractor, MOTION_WIDTH, probeBackbone } from './features.ts';
import { NearestNeighbours } from './knn.ts';
import {
  appearanceScores,
  type Banks,
  type Calibration,
  combine,
  MODEL_KIND,
  MODEL_VERSION,
  type ModelFile,
  type ModelParams,
  PastMean,
  replaceable,
  writeModelDir,
} from './model.ts';

/** Hyperparameters; the defaults and why they are what they are are in docs/benchmarks.md ("anomaly"). */
export const defaultFitOptions = {
  /** Grey levels (0–255): above H.264 noise on a static scene, below a walking person's cells. */
  motionGate: 3,
  /** Background vectors kept per cell (k-center of the cell's static vectors). */
  backgroundPerCell: 8,
  /** Foreground bank size (k-center coreset of the moving cells' vectors). */
  foregroundBank: 1000,
  /** Frames between two samples for the foreground pool, and for each cell's background pool. */
  foregroundEvery: 2,
  backgroundEvery: 8,
  /** Caps on the pools before the coreset (uniform reservoir samples beyond them). */
  foregroundPoolCap: 60_000,
  backgroundPoolCap: 128,
  /** Causal smoothing window: 0.5 s at 10 fps. */
  smoothSeconds: 0.5,
  /** Threshold percentile of the held-out normal frames' smoothed scores (~1 % false alarms on normal video). */
  thresholdPercentile: 99,
  /** Calibration percentile of each cue's per-frame maximum on held-out normal frames. */
  calibrationPercentile: 99,
};

export type FitOptions = typeof defaultFitOptions;

/** How much normal footage a fit needs: enough to learn the banks and enough held out to set a percentile. */
export const MIN_FIT_SECONDS = 30;
export const MIN_HELD_OUT_SECONDS = 10;

export interface FitHooks {
  /** `phase` starts; `seconds` of video it will decode. */
  onPhase?: (phase: 'learning' | 'selecting' | 'calibrating', seconds: number) => void;
  /** Seconds of video done in the current phase. */
  onProgress?: (seconds: number) => void;
}

export interface FitResult {
  model: ModelFile;
  dir: string;
  seconds: number;
}

/** Held out: every 4th clip (the 4th, 8th, ...), or the last one when there are fewer than 4. */
export function splitClips(clips: ClipInfo[]): { fit: ClipInfo[]; heldOut: ClipInfo[] } {
  const held = clips.length >= 4 ? clips.filter((_, i) => i % 4 === 3) : clips.slice(-1);
  return { fit: clips.filter((c) => !held.includes(c)), heldOut: held };
}

function percentile(values: ArrayLike<number>, p: number): number {
  const s = Float64Array.from(values).sort();
  if (!s.length) return 0;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

/** A fixed-capacity uniform sample of vectors (reservoir sampling). */
class Reservoir {
  readonly data: Float32Array;
  size = 0;
  seen = 0;
  constructor(
    readonly capacity: number,
    readonly dim: number,
    private readonly random: () => number,
  ) {
    this.data = new Float32Array(capacity * dim);
  }
  add(src: Float32Array, offset: number): void {
    this.seen++;
    let slot = this.size;
    if (this.size < this.capacity) this.size++;
    else {
      slot = Math.floor(this.random() * this.seen);
      if (slot >= this.capacity) return;
    }
    this.data.set(src.subarray(offset, offset + this.dim), slot * this.dim);
  }
}

/**
 * Greedy k-center (PatchCore's coreset): repeatedly take the vector farthest from those taken, so the bank covers
 * the pool with `k` vectors. Starts from the vector nearest the pool's mean. Returns [k', dim], k' = min(k, rows).
 */
export function kCenter(pool: Float32Array, rows: number, dim: number, k: number): Float32Array {
  const n = Math.min(k, rows);
  const out = new Float32Array(n * dim);
  if (!n) return out;
  const mean = new Float64Array(dim);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < dim; c++) mean[c] = (mean[c] as number) + (pool[r * dim + c] as number) / rows;
  const minD = new Float64Array(rows).fill(Number.POSITIVE_INFINITY);
  let next = 0;
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < dim; c++) s += ((pool[r * dim + c] as number) - (mean[c] as number)) ** 2;
    if (s < best) [best, next] = [s, r];
  }
  for (let i = 0; i < n; i++) {
    const o = next * dim;
    out.set(pool.subarray(o, o + dim), i * dim);
    let far = -1;
    for (let r = 0; r < rows; r++) {
      const b = r * dim;
      let s = 0;
      for (let c = 0; c < dim; c++) {
        const v = (pool[b + c] as number) - (pool[o + c] as number);
        s += v * v;
      }
      const m = Math.min(minD[r] as number, s);
      minD[r] = m;
      if (m > far) [far, next] = [m, r];
    }
  }
  return out;
}

export async function fitModel(
  datasetDir: string,
  outDir: string,
  options: Partial<FitOptions> & { backbonePath?: string; threads?: number; fps?: number } = {},
  hooks: FitHooks = {},
): Promise<FitResult> {
  const o = { ...defaultFitOptions, ...options };
  const started = performance.now();
  // Refuse before any work: a dir that is something else is never touched.
  if (!replaceable(outDir))
    throw new GuardianError(
      'CONFLICT',
      `${outDir} exists and is not an anomaly model: choose an empty or new directory (nothing was written)`,
    );
  const clips = await listClips(datasetDir);
  const total = clips.reduce((s, c) => s + c.seconds, 0);
  const { fit, heldOut } = splitClips(clips);
  const fitSeconds = fit.reduce((s, c) => s + c.seconds, 0);
  const heldSeconds = heldOut.reduce((s, c) => s + c.seconds, 0);
  if (clips.length < 2 || fitSeconds < MIN_FIT_SECONDS || heldSeconds < MIN_HELD_OUT_SECONDS)
    throw new GuardianError(
      'INVALID_ARGUMENT',
      `too little normal video to fit: ${datasetDir} has ${total.toFixed(1)} s in ${clips.length} clip${clips.length === 1 ? '' : 's'}; ` +
        `an anomaly model needs at least ${MIN_FIT_SECONDS + MIN_HELD_OUT_SECONDS} s in at least 2 clips ` +
        `(${MIN_FIT_SECONDS} s to learn from and ${MIN_HELD_OUT_SECONDS} s in every 4th clip, or the last, held out to set the threshold)`,
    );
  // The clips' rate, or the rate the model will be scored at live (`fps`, lower: frames are sampled by time).
  const clipFps = Math.min(...clips.map((c) => c.fps));
  const fps = Math.round(Math.min(clipFps, options.fps ?? clipFps) * 100) / 100;
  const backbonePath = resolve(options.backbonePath ?? defaultBackbonePath());
  const backbone = await probeBackbone(backbonePath, { channels: 232, grid: 20 });
  const { channels: dim, grid } = backbone;
  const cells = grid * grid;
  const extractor = await FeatureExtractor.create(backbonePath, backbone, options.threads ?? 1);
  const random = seededRandom(0x9e3779b9);
  const fgPool = new Reservoir(o.foregroundPoolCap, dim, random);
  const bgPools = Array.from({ length: cells }, () => new Reservoir(o.backgroundPoolCap, dim, random));
  let fitFrames = 0;
  let heldOutFrames = 0;
  let banks: Banks;
  let nearest: NearestNeighbours | undefined;
  const params: ModelParams = {
    backbone: { ...backbone, file: basename(backbonePath) },
    grid,
    channels: dim,
    fps,
    motionWidth: MOTION_WIDTH,
    motionGate: o.motionGate,
    backgroundPerCell: o.backgroundPerCell,
    foregroundBank: o.foregroundBank,
    smoothFrames: Math.max(1, Math.round(o.smoothSeconds * fps)),
    thresholdPercentile: o.thresholdPercentile,
  };
  try {
    // 1. Learn: pools of static vectors per cell and of moving vectors anywhere.
    hooks.onPhase?.('learning', fitSeconds);
    let done = 0;
    for (const clip of fit) {
      const stream = extractor.stream();
      let i = 0;
      for await (const frame of clipFrames(clip, fps)) {
        const f = await stream.next(frame);
        const first = i === 0;
        for (let p = 0; p < cells; p++) {
          const moving = (f.motion[p] as number) >= o.motionGate;
          if (moving && i % o.foregroundEvery === 0) fgPool.add(f.appearance, p * dim);
          else if (!moving && !first && i % o.backgroundEvery === 0)
            (bgPools[p] as Reservoir).add(f.appearance, p * dim);
        }
        i++;
        fitFrames++;
        hooks.onProgress?.(done + i / fps);
      }
      done += clip.seconds;
    }
    // 2. Select: k-center coresets.
    hooks.onPhase?.('selecting', 0);
    const background = new Float32Array(cells * o.backgroundPerCell * dim);
    for (let p = 0; p < cells; p++) {
      const pool = bgPools[p] as Reservoir;
      // A cell that never stood still in the fit clips keeps whatever was there (moving vectors) as its background.
      const src = pool.size ? pool : fgPool;
      const chosen = kCenter(src.data, src.size, dim, o.backgroundPerCell);
      const rows = chosen.length / dim;
      for (let j = 0; j < o.backgroundPerCell; j++) {
        const r = rows ? j % rows : 0;
        background.set(chosen.subarray(r * dim, (r + 1) * dim), (p * o.backgroundPerCell + j) * dim);
      }
    }
    if (!fgPool.size)
      throw new GuardianError(
        'INVALID_ARGUMENT',
        `nothing moves in the fit clips of ${datasetDir}: an anomaly model learns what normally moves; give it footage with normal activity`,
      );
    const foreground = kCenter(fgPool.data, fgPool.size, dim, o.foregroundBank);
    banks = { background, foreground };
    nearest = await NearestNeighbours.create(foreground, dim, 1);
    // 3. Calibrate on the held-out clips, scored as live video would be.
    hooks.onPhase?.('calibrating', heldSeconds);
    const perClip: { appearance: Float32Array; motion: Float32Array }[][] = [];
    const appMax: number[] = [];
    const motMax: number[] = [];
    done = 0;
    for (const clip of heldOut) {
      const stream = extractor.stream();
      const frames: { appearance: Float32Array; motion: Float32Array }[] = [];
      for await (const frame of clipFrames(clip, fps)) {
        const f = await stream.next(frame);
        const appearance = await appearanceScores(f.appearance, banks, nearest, params);
        frames.push({ appearance, motion: f.motion });
        appMax.push(Math.max(...appearance));
        motMax.push(Math.max(...f.motion));
        heldOutFrames++;
        hooks.onProgress?.(done + frames.length / fps);
      }
      perClip.push(frames);
      done += clip.seconds;
    }
    const calibration: Calibration = {
      appearance: Math.max(1e-6, percentile(appMax, o.calibrationPercentile)),
      motion: Math.max(1e-6, percentile(motMax, o.calibrationPercentile)),
    };
    const smoothed: number[] = [];
    for (const frames of perClip) {
      const mean = new PastMean(params.smoothFrames);
      for (const f of frames) smoothed.push(mean.push(combine(f, calibration).raw));
    }
    const threshold = percentile(smoothed, o.thresholdPercentile);
    const seconds = (performance.now() - started) / 1000;
    const model = writeModelDir(
      outDir,
      {
        kind: MODEL_KIND,
        version: MODEL_VERSION,
        created: new Date().toISOString(),
        params,
        calibration,
        threshold,
        fit: {
          dataset: resolve(datasetDir),
          fitClips: fit.map((c) => c.name),
          heldOutClips: heldOut.map((c) => c.name),
          fitFrames,
          heldOutFrames,
          foregroundPool: fgPool.seen,
          seconds: Math.round(seconds * 10) / 10,
        },
      },
      banks,
    );
    return { model, dir: resolve(outDir), seconds };
  } finally {
    await nearest?.close();
    await extractor.close();
  }
}
