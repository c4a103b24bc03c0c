// Fitting a knn-patch model from normal clips only. Every 4th clip (at least one) is held out: the banks are learned
// from the others, and the held-out clips, scored like live video, give the calibration of each cue and the
// threshold (a percentile of their smoothed scores). Nothing here looks at anomalous footage.
import { basename, resolve } from 'node:path';

import { GuardianError } from '../../shared/errors.ts';
import { seededRandom } from '../../shared/seeded-random.ts';
import { ClipAnalyser, type DetectorChoice, defaultDetectorChoice } from './clip-analyser.ts';
import { type ClipInfo, listClips } from './dataset.ts';
import { backbonePreset, defaultBackbonePath, FeatureExtractor, MOTION_WIDTH, probeBackbone } from './features.ts';
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
  objectCells,
  PastMean,
  type Regime,
  regimeOf,
  replaceable,
  writeModelDir,
} from './model.ts';
import { calibrateObjects, ObjectNormsBuilder, type ObjectObservation } from './objects.ts';

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

/** What a regime's frames need to get a bank of its own: as much as a whole fit. */
const regimeSeconds = (frames: number, fps: number) => frames / fps;

interface HeldOutFrame {
  regime: number;
  appearance: Float32Array;
  motion: Float32Array;
  objects: ObjectObservation[];
  width: number;
  height: number;
}

export async function fitModel(
  datasetDir: string,
  outDir: string,
  options: Partial<FitOptions> & {
    backbonePath?: string;
    threads?: number;
    fps?: number;
    /** The detector whose tracks give the object cues (default: the product's); null: no object cues. */
    detector?: DetectorChoice | null;
  } = {},
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
  let analyser: ClipAnalyser | undefined;
  const random = seededRandom(0x9e3779b9);
  const REGIMES = ['colour', 'mono'] as const;
  const pools = REGIMES.map(() => ({
    fg: new Reservoir(o.foregroundPoolCap, dim, random),
    bg: Array.from({ length: cells }, () => new Reservoir(o.backgroundPoolCap, dim, random)),
    fitFrames: 0,
    heldOutFrames: 0,
  }));
  const objectNorms = new ObjectNormsBuilder();
  let fitFrames = 0;
  let heldOutFrames = 0;
  const nearest: NearestNeighbours[] = [];
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
  const p = backbonePreset;
  const regimeIndex = (t: Float32Array) =>
    regimeOf(t, p.size, p.mean ?? [0, 0, 0], p.std ?? [1, 1, 1]) === 'colour' ? 0 : 1;
  try {
    analyser = await ClipAnalyser.create(
      options.detector === undefined ? { ...defaultDetectorChoice(), threads: options.threads ?? 1 } : options.detector,
    );
    // 1. Learn: per regime, pools of static vectors per cell and of moving vectors anywhere; the tracks' norms.
    hooks.onPhase?.('learning', fitSeconds);
    let done = 0;
    for (const clip of fit) {
      const stream = extractor.stream();
      let i = 0;
      for await (const { frame, objects } of analyser.frames(clip, fps)) {
        const f = await stream.next(frame);
        const pool = pools[regimeIndex(frame.tensor?.data as Float32Array)] as (typeof pools)[number];
        const first = i === 0;
        for (let c = 0; c < cells; c++) {
          const moving = (f.motion[c] as number) >= o.motionGate;
          if (moving && i % o.foregroundEvery === 0) pool.fg.add(f.appearance, c * dim);
          else if (!moving && !first && i % o.backgroundEvery === 0)
            (pool.bg[c] as Reservoir).add(f.appearance, c * dim);
        }
        objectNorms.add(objects, frame.width, frame.height);
        pool.fitFrames++;
        i++;
        fitFrames++;
        hooks.onProgress?.(done + i / fps);
      }
      done += clip.seconds;
    }
    // 2. Select: k-center coresets, for each regime with enough footage of its own.
    hooks.onPhase?.('selecting', 0);
    const skippedRegimes: Record<string, string> = {};
    const learned: number[] = [];
    const banks: Banks[] = [];
    REGIMES.forEach((name, r) => {
      const pool = pools[r] as (typeof pools)[number];
      const seconds = regimeSeconds(pool.fitFrames, fps);
      if (!pool.fitFrames) return;
      if (seconds < MIN_FIT_SECONDS) {
        skippedRegimes[name] =
          `only ${seconds.toFixed(1)} s of ${name} footage to learn from (${MIN_FIT_SECONDS} s needed)`;
        return;
      }
      if (!pool.fg.size) {
        skippedRegimes[name] = `nothing moves in the ${name} footage`;
        return;
      }
      const background = new Float32Array(cells * o.backgroundPerCell * dim);
      for (let c = 0; c < cells; c++) {
        const bg = pool.bg[c] as Reservoir;
        // A cell that never stood still in the fit clips keeps whatever was there (moving vectors) as its background.
        const src = bg.size ? bg : pool.fg;
        const chosen = kCenter(src.data, src.size, dim, o.backgroundPerCell);
        const rows = chosen.length / dim;
        for (let j = 0; j < o.backgroundPerCell; j++) {
          const k = rows ? j % rows : 0;
          background.set(chosen.subarray(k * dim, (k + 1) * dim), (c * o.backgroundPerCell + j) * dim);
        }
      }
      learned.push(r);
      banks.push({ background, foreground: kCenter(pool.fg.data, pool.fg.size, dim, o.foregroundBank) });
    });
    if (!learned.length) {
      const moving = pools.some((q) => q.fg.size);
      throw new GuardianError(
        'INVALID_ARGUMENT',
        moving
          ? `too little footage of one kind to fit: ${Object.values(skippedRegimes).join('; ')}`
          : `nothing moves in the fit clips of ${datasetDir}: an anomaly model learns what normally moves; give it footage with normal activity`,
      );
    }
    for (const b of banks) nearest.push(await NearestNeighbours.create(b.foreground, dim, 1));
    const detector = analyser.detectorInfo;
    let norms = detector ? objectNorms.build(detector) : null;
    // 3. Calibrate on the held-out clips, scored as live video would be (a frame of a regime not learned is scored
    //    with the first bank, as live).
    hooks.onPhase?.('calibrating', heldSeconds);
    const perClip: HeldOutFrame[][] = [];
    done = 0;
    for (const clip of heldOut) {
      const stream = extractor.stream();
      const frames: HeldOutFrame[] = [];
      for await (const { frame, objects } of analyser.frames(clip, fps)) {
        const f = await stream.next(frame);
        const own = learned.indexOf(regimeIndex(frame.tensor?.data as Float32Array));
        const regime = own >= 0 ? own : 0;
        if (own >= 0) (pools[learned[own] as number] as (typeof pools)[number]).heldOutFrames++;
        const appearance = await appearanceScores(
          f.appearance,
          banks[regime] as Banks,
          nearest[regime] as NearestNeighbours,
          params,
        );
        frames.push({ regime: own, appearance, motion: f.motion, objects, width: frame.width, height: frame.height });
        heldOutFrames++;
        hooks.onProgress?.(done + frames.length / fps);
      }
      perClip.push(frames);
      done += clip.seconds;
    }
    // A learned regime needs held-out frames of its own to calibrate; without them it is dropped (another remains).
    const kept = learned.filter((r) => {
      const pool = pools[r] as (typeof pools)[number];
      const seconds = regimeSeconds(pool.heldOutFrames, fps);
      if (seconds >= MIN_HELD_OUT_SECONDS) return true;
      skippedRegimes[REGIMES[r] as string] =
        `only ${seconds.toFixed(1)} s of ${REGIMES[r]} footage in the held-out clips (${MIN_HELD_OUT_SECONDS} s needed)`;
      return false;
    });
    if (!kept.length)
      throw new GuardianError(
        'INVALID_ARGUMENT',
        `too little held-out footage to set the threshold: ${Object.values(skippedRegimes).join('; ')}`,
      );
    if (norms) norms = calibrateObjects(norms, perClip.flat());
    const calibrations: Calibration[] = kept.map((r) => {
      const own = learned.indexOf(r);
      const frames = perClip.flat().filter((f) => f.regime === own);
      return {
        appearance: Math.max(
          1e-6,
          percentile(
            frames.map((f) => Math.max(...f.appearance)),
            o.calibrationPercentile,
          ),
        ),
        motion: Math.max(
          1e-6,
          percentile(
            frames.map((f) => Math.max(...f.motion)),
            o.calibrationPercentile,
          ),
        ),
      };
    });
    // The threshold: the percentile of the held-out frames' smoothed scores (frames of a kept regime only).
    const smoothed: number[] = [];
    for (const frames of perClip) {
      const mean = new PastMean(params.smoothFrames);
      let last = -2;
      for (const f of frames) {
        const k = kept.indexOf(learned[f.regime] ?? -1);
        if (k < 0) continue;
        if (f.regime !== last && last !== -2) mean.reset();
        last = f.regime;
        const object = norms ? objectCells(norms, f.objects, f.width, f.height, grid).cells : undefined;
        smoothed.push(
          mean.push(
            combine(
              { appearance: f.appearance, motion: f.motion, ...(object ? { object } : {}) },
              calibrations[k] as Calibration,
            ).raw,
          ),
        );
      }
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
        threshold,
        regimes: kept.map((r, k) => ({ name: REGIMES[r] as Regime, calibration: calibrations[k] as Calibration })),
        objects: norms,
        fit: {
          dataset: resolve(datasetDir),
          fitClips: fit.map((c) => c.name),
          heldOutClips: heldOut.map((c) => c.name),
          fitFrames,
          heldOutFrames,
          foregroundPool: pools.reduce((s, q) => s + q.fg.seen, 0),
          seconds: Math.round(seconds * 10) / 10,
          regimes: Object.fromEntries(
            kept.map((r) => [
              REGIMES[r],
              {
                fitFrames: (pools[r] as (typeof pools)[number]).fitFrames,
                heldOutFrames: (pools[r] as (typeof pools)[number]).heldOutFrames,
              },
            ]),
          ),
          skippedRegimes,
          objectObservations: objectNorms.observations,
        },
      },
      kept.map((r) => banks[learned.indexOf(r)] as Banks),
    );
    return { model, dir: resolve(outDir), seconds };
  } finally {
    for (const n of nearest) await n.close();
    await analyser?.close();
    await extractor.close();
  }
}
