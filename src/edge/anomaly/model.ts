// The per-camera anomaly model (kind `knn-patch`): what is stored in a model dir, how it is loaded and checked, and
// how it scores frames. A model dir holds model.json (kind, version, created, params, calibration, threshold) and
// bank.bin (the memory banks, little-endian float32). See docs/benchmarks.md ("anomaly") for how it was measured.
//
// Scoring one frame, on a G×G grid of cells (G = 20 for NanoDet-m 320):
// - appearance(cell) = distance of its backbone vector to the nearest of (a) the few background vectors learned for
//   that cell and (b) the foreground bank: vectors of moving cells anywhere in the normal footage, coreset-reduced
//   (PatchCore's greedy k-center). "Looks like this spot's background, or like something that normally moves here".
// - motion(cell) = mean grey-level change since the previous sampled frame.
// - Each cue is divided by its 99th percentile of per-frame maxima on held-out normal clips (1 = as unusual as the
//   most unusual 1 % of normal frames), the two are added, the frame's raw score is the maximum over cells, and the
//   score is the mean of the raw scores of the last `smoothFrames` frames (the past only: causal).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import type { Frame, TensorOptions } from '../../../bindings/index.ts';
import { GuardianError } from '../../shared/errors.ts';
import {
  type BackboneInfo,
  backbonePreset,
  defaultBackbonePath,
  FeatureExtractor,
  type FeatureStream,
  sha256,
} from './features.ts';
import { NearestNeighbours } from './knn.ts';

export const MODEL_KIND = 'knn-patch';
export const MODEL_VERSION = 1;
export const MODEL_FILE = 'model.json';
export const BANK_FILE = 'bank.bin';

export interface ModelParams {
  backbone: BackboneInfo & { file: string };
  /** Cells per side (the backbone's grid) and the appearance vector length. */
  grid: number;
  channels: number;
  /** Frame rate the model was fitted at (motion depends on it); evaluation and live use must match. */
  fps: number;
  motionWidth: number;
  /** A cell with more motion energy than this is "moving" (its vector goes to the foreground pool). */
  motionGate: number;
  backgroundPerCell: number;
  foregroundBank: number;
  smoothFrames: number;
  thresholdPercentile: number;
}

export interface Calibration {
  /** 99th percentile of the per-frame maximum of each cue on held-out normal frames. */
  appearance: number;
  motion: number;
}

export interface ModelFile {
  kind: typeof MODEL_KIND;
  version: typeof MODEL_VERSION;
  created: string;
  params: ModelParams;
  calibration: Calibration;
  /** A smoothed frame score above this is unusual (the thresholdPercentile of held-out normal frames). */
  threshold: number;
  bank: { file: string; sha256: string; backgroundRows: number; foregroundRows: number };
  fit: {
    dataset: string;
    fitClips: string[];
    heldOutClips: string[];
    fitFrames: number;
    heldOutFrames: number;
    foregroundPool: number;
    seconds: number;
  };
}

export interface Banks {
  /** [grid², backgroundPerCell, channels] */
  background: Float32Array;
  /** [foregroundRows, channels] */
  foreground: Float32Array;
}

const bad = (dir: string, why: string) =>
  new GuardianError('INVALID_ARGUMENT', `${dir} is not an anomaly model: ${why}`);

/** Reads and checks a model dir; every way it can be wrong is a clear error naming the dir. */
export function readModelDir(dir: string): { model: ModelFile; banks: Banks } {
  if (!existsSync(dir)) throw new GuardianError('NOT_FOUND', `anomaly model ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw bad(dir, 'not a directory');
  const file = join(dir, MODEL_FILE);
  if (!existsSync(file)) throw bad(dir, `no ${MODEL_FILE} (fit one with guardian anomaly fit)`);
  let model: ModelFile;
  try {
    model = JSON.parse(readFileSync(file, 'utf8')) as ModelFile;
  } catch (err) {
    throw bad(dir, `${MODEL_FILE} is not JSON (${(err as Error).message})`);
  }
  if (typeof model !== 'object' || model === null) throw bad(dir, `${MODEL_FILE} is not an object`);
  if (model.kind !== MODEL_KIND)
    throw new GuardianError(
      'INVALID_ARGUMENT',
      `${dir} is a model of kind ${JSON.stringify(model.kind ?? null)}, not ${MODEL_KIND}: this command runs ${MODEL_KIND} models`,
    );
  if (model.version !== MODEL_VERSION)
    throw new GuardianError(
      'INVALID_ARGUMENT',
      `${dir} is a ${MODEL_KIND} model of version ${JSON.stringify(model.version ?? null)}; this Guardian reads version ${MODEL_VERSION}: fit it again`,
    );
  const p = model.params;
  const ok =
    p &&
    model.bank &&
    model.calibration &&
    [p.grid, p.channels, p.fps, p.backgroundPerCell, p.smoothFrames, model.threshold].every(
      (v) => typeof v === 'number' && Number.isFinite(v) && v > 0,
    ) &&
    typeof p.backbone?.sha256 === 'string' &&
    typeof p.backbone?.tensor === 'string';
  if (!ok) throw bad(dir, `${MODEL_FILE} lacks params, calibration, bank or threshold`);
  const bankPath = join(dir, basename(model.bank.file));
  if (!existsSync(bankPath)) throw bad(dir, `its memory bank ${model.bank.file} is missing`);
  const bytes = readFileSync(bankPath);
  const cells = p.grid * p.grid;
  const bgFloats = cells * p.backgroundPerCell * p.channels;
  const fgFloats = model.bank.foregroundRows * p.channels;
  if (bytes.length !== (bgFloats + fgFloats) * 4)
    throw new GuardianError(
      'CORRUPT_DATA',
      `${bankPath} has ${bytes.length} bytes; the model says ${(bgFloats + fgFloats) * 4} (damaged or from another model)`,
    );
  if (sha256(bytes) !== model.bank.sha256)
    throw new GuardianError('CORRUPT_DATA', `${bankPath} does not match its checksum in ${MODEL_FILE} (damaged)`);
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return { model, banks: { background: all.subarray(0, bgFloats), foreground: all.subarray(bgFloats) } };
}

/** Is `dir` absent, empty, or an anomaly model (something fit may replace)? */
export function replaceable(dir: string): boolean {
  if (!existsSync(dir)) return true;
  if (!statSync(dir).isDirectory()) return false;
  const entries = readdirSync(dir);
  return entries.length === 0 || entries.includes(MODEL_FILE);
}

/** Writes the model dir all at once: a sibling temporary dir renamed into place, so a failure leaves the old one. */
export function writeModelDir(dir: string, model: Omit<ModelFile, 'bank'>, banks: Banks): ModelFile {
  if (!replaceable(dir))
    throw new GuardianError(
      'CONFLICT',
      `${dir} exists and is not an anomaly model: choose an empty or new directory (nothing was written)`,
    );
  const bytes = Buffer.concat([
    Buffer.from(banks.background.buffer, banks.background.byteOffset, banks.background.byteLength),
    Buffer.from(banks.foreground.buffer, banks.foreground.byteOffset, banks.foreground.byteLength),
  ]);
  const full: ModelFile = {
    ...model,
    bank: {
      file: BANK_FILE,
      sha256: sha256(bytes),
      backgroundRows: banks.background.length / model.params.channels,
      foregroundRows: banks.foreground.length / model.params.channels,
    },
  };
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
  mkdirSync(tmp);
  try {
    writeFileSync(join(tmp, BANK_FILE), bytes);
    writeFileSync(join(tmp, MODEL_FILE), `${JSON.stringify(full, null, 2)}\n`);
    if (existsSync(dir)) {
      const old = `${dir}.old-${randomBytes(4).toString('hex')}`;
      renameSync(dir, old);
      renameSync(tmp, dir);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return full;
}

export type Cue = 'appearance' | 'motion';

export interface CellScores {
  appearance: Float32Array;
  motion: Float32Array;
}

export interface FrameScore {
  /** Smoothed score (compare with the model's threshold). */
  score: number;
  /** This frame's own score (max over cells), before smoothing. */
  raw: number;
  /** The most unusual cell, as fractions of the frame [x1, y1, x2, y2], and the cue that dominated it. */
  region: [number, number, number, number];
  cue: Cue;
  /** For `motion`: how many times the usual motion at its most unusual (the held-out 99th percentile). */
  ratio: number;
  /** In words, for an event: "something unusual here" or "moving 3.2× more than usual here". */
  explanation: string;
  /** Share of the cells above the model's threshold on their own (most of them at once: lights, IR, re-aim). */
  unusualShare: number;
  ms: { backbone: number; score: number };
}

/** Per-cell distances to the banks: the appearance cue, before calibration. */
export async function appearanceScores(
  appearance: Float32Array,
  banks: Banks,
  nearest: NearestNeighbours,
  params: Pick<ModelParams, 'grid' | 'channels' | 'backgroundPerCell'>,
): Promise<Float32Array> {
  const { grid, channels: d, backgroundPerCell: k } = params;
  const cells = grid * grid;
  const fg = await nearest.distances(appearance, cells);
  const bg = banks.background;
  for (let p = 0; p < cells; p++) {
    let best = (fg[p] as number) ** 2;
    const a = p * d;
    for (let j = 0; j < k; j++) {
      const b = (p * k + j) * d;
      let s = 0;
      for (let c = 0; c < d && s < best; c++) {
        const v = (appearance[a + c] as number) - (bg[b + c] as number);
        s += v * v;
      }
      if (s < best) best = s;
    }
    fg[p] = Math.sqrt(best);
  }
  return fg;
}

/** The frame's raw score from calibrated cell scores: max over cells of the calibrated sum, and where. */
export function combine(
  cells: CellScores,
  calibration: Calibration,
): { raw: number; cell: number; cue: Cue; ratio: number } {
  let raw = Number.NEGATIVE_INFINITY;
  let cell = 0;
  for (let p = 0; p < cells.appearance.length; p++) {
    const v =
      (cells.appearance[p] as number) / calibration.appearance + (cells.motion[p] as number) / calibration.motion;
    if (v > raw) {
      raw = v;
      cell = p;
    }
  }
  const a = (cells.appearance[cell] as number) / calibration.appearance;
  const m = (cells.motion[cell] as number) / calibration.motion;
  return { raw, cell, cue: m > a ? 'motion' : 'appearance', ratio: m };
}

/** Causal smoothing: the mean of the last n raw scores. */
export class PastMean {
  private readonly values: number[] = [];
  constructor(private readonly n: number) {}
  push(v: number): number {
    this.values.push(v);
    if (this.values.length > this.n) this.values.shift();
    return this.values.reduce((a, b) => a + b, 0) / this.values.length;
  }
}

export class AnomalyModel {
  /** The tensor the backbone reads (the media core converts frames to it; live scoring resamples the detector's). */
  readonly input: TensorOptions = backbonePreset;

  private constructor(
    readonly dir: string,
    readonly file: ModelFile,
    private readonly banks: Banks,
    private readonly nearest: NearestNeighbours,
    private readonly extractor: FeatureExtractor,
  ) {}

  /** Loads a model dir; `backbonePath` defaults to the shipped NanoDet-m (its hash must match the fitted one). */
  static async load(dir: string, options: { backbonePath?: string; threads?: number } = {}): Promise<AnomalyModel> {
    const { model, banks } = readModelDir(dir);
    const extractor = await FeatureExtractor.create(
      options.backbonePath ?? defaultBackbonePath(),
      model.params.backbone,
      options.threads ?? 1,
    );
    try {
      const nearest = await NearestNeighbours.create(banks.foreground, model.params.channels, 1);
      return new AnomalyModel(dir, model, banks, nearest, extractor);
    } catch (err) {
      await extractor.close();
      throw err;
    }
  }

  get threshold(): number {
    return this.file.threshold;
  }

  /** A scorer for one clip or one camera: it keeps the previous motion plane and the last raw scores. */
  scorer(): FrameScorer {
    return new FrameScorer(this.file, this.banks, this.nearest, this.extractor.stream());
  }

  async close(): Promise<void> {
    await this.nearest.close();
    await this.extractor.close();
  }
}

export class FrameScorer {
  private readonly smooth: PastMean;

  constructor(
    private readonly model: ModelFile,
    private readonly banks: Banks,
    private readonly nearest: NearestNeighbours,
    private readonly features: FeatureStream,
  ) {
    this.smooth = new PastMean(model.params.smoothFrames);
  }

  /** A frame that is not scored: its motion plane becomes the next frame's previous one. */
  observe(frame: Pick<Frame, 'motion'>): void {
    this.features.observe(frame);
  }

  async score(frame: Frame): Promise<FrameScore> {
    const f = await this.features.next(frame);
    const t0 = performance.now();
    const appearance = await appearanceScores(f.appearance, this.banks, this.nearest, this.model.params);
    const c = combine({ appearance, motion: f.motion }, this.model.calibration);
    const score = this.smooth.push(c.raw);
    const cal = this.model.calibration;
    let unusual = 0;
    for (let p = 0; p < appearance.length; p++)
      if ((appearance[p] as number) / cal.appearance + (f.motion[p] as number) / cal.motion > this.model.threshold)
        unusual++;
    const g = this.model.params.grid;
    const x = c.cell % g;
    const y = Math.floor(c.cell / g);
    return {
      score,
      raw: c.raw,
      region: [x / g, y / g, (x + 1) / g, (y + 1) / g],
      cue: c.cue,
      ratio: c.ratio,
      explanation: c.cue === 'motion' ? `moving ${c.ratio.toFixed(1)}× more than usual here` : 'something unusual here',
      unusualShare: unusual / Math.max(1, appearance.length),
      ms: { backbone: f.backboneMs, score: performance.now() - t0 + f.motionMs },
    };
  }
}
