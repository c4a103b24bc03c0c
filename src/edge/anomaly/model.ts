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
// - Version 2 adds object cues (objects.ts: the class, speed, direction and size of each tracked object against what
//   this camera normally sees where it is), added to the cells under the object's box, and banks per picture regime:
//   `colour` (day) and `mono` (night: IR cameras switch to a monochrome picture), each with its own calibration, the
//   bank chosen per frame. Version 1 dirs (one bank, no objects) still load.
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
import { type ObjectNorms, type ObjectObservation, scoreObjects } from './objects.ts';

export const MODEL_KIND = 'knn-patch';
export const MODEL_VERSION = 2;
/** Versions this edge reads (v1: one bank, no object cues). */
export const READABLE_VERSIONS = [1, 2];
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

/** The picture regime a frame is in: colour (day) or monochrome (night, IR); `any` in version 1 models. */
export type Regime = 'colour' | 'mono' | 'any';

/** One regime's banks (in bank.bin in this order: background, then foreground) and cue calibration. */
export interface RegimeBank {
  name: Regime;
  calibration: Calibration;
  backgroundRows: number;
  foregroundRows: number;
}

export interface ModelFile {
  kind: typeof MODEL_KIND;
  version: number;
  created: string;
  params: ModelParams;
  /** A smoothed frame score above this is unusual (the thresholdPercentile of held-out normal frames). */
  threshold: number;
  regimes: RegimeBank[];
  /** What this camera's tracked objects normally are, where (null: fitted without a detector, or version 1). */
  objects: ObjectNorms | null;
  bank: { file: string; sha256: string };
  fit: {
    dataset: string;
    fitClips: string[];
    heldOutClips: string[];
    fitFrames: number;
    heldOutFrames: number;
    foregroundPool: number;
    seconds: number;
    /** Per regime: frames learned from and held out; regimes dropped for too little footage, and why. */
    regimes?: Record<string, { fitFrames: number; heldOutFrames: number }>;
    skippedRegimes?: Record<string, string>;
    /** Tracked-object observations the object cues were learned from. */
    objectObservations?: number;
  };
}

/** The on-disk form of version 1 (one bank, calibration at the top). */
interface ModelFileV1 extends Omit<ModelFile, 'regimes' | 'objects' | 'bank'> {
  calibration: Calibration;
  bank: { file: string; sha256: string; backgroundRows: number; foregroundRows: number };
}

export interface Banks {
  /** [grid², backgroundPerCell, channels] */
  background: Float32Array;
  /** [foregroundRows, channels] */
  foreground: Float32Array;
}

const bad = (dir: string, why: string) =>
  new GuardianError('INVALID_ARGUMENT', `${dir} is not an anomaly model: ${why}`);

/** Reads and checks a model dir; every way it can be wrong is a clear error naming the dir. Version 1 dirs come
 *  back in the version 2 shape (one `any` regime, no object cues). `banks` is in the order of `model.regimes`. */
export function readModelDir(dir: string): { model: ModelFile; banks: Banks[] } {
  if (!existsSync(dir)) throw new GuardianError('NOT_FOUND', `anomaly model ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw bad(dir, 'not a directory');
  const file = join(dir, MODEL_FILE);
  if (!existsSync(file)) throw bad(dir, `no ${MODEL_FILE} (fit one with guardian anomaly fit)`);
  let doc: ModelFile & Partial<ModelFileV1>;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw bad(dir, `${MODEL_FILE} is not JSON (${(err as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null) throw bad(dir, `${MODEL_FILE} is not an object`);
  if (doc.kind !== MODEL_KIND)
    throw new GuardianError(
      'INVALID_ARGUMENT',
      `${dir} is a model of kind ${JSON.stringify(doc.kind ?? null)}, not ${MODEL_KIND}: this command runs ${MODEL_KIND} models`,
    );
  if (!READABLE_VERSIONS.includes(doc.version))
    throw new GuardianError(
      'INVALID_ARGUMENT',
      `${dir} is a ${MODEL_KIND} model of version ${JSON.stringify(doc.version ?? null)}; this Guardian reads versions ${READABLE_VERSIONS.join(' and ')}: fit it again`,
    );
  const model: ModelFile =
    doc.version === 1
      ? {
          ...doc,
          // Checked below like a version 2 file: a v1 file without calibration or bank fails there.
          regimes: [
            {
              name: 'any',
              calibration: doc.calibration as Calibration,
              backgroundRows: doc.bank?.backgroundRows as number,
              foregroundRows: doc.bank?.foregroundRows as number,
            },
          ],
          objects: null,
        }
      : doc;
  const p = model.params;
  const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  const ok =
    p &&
    model.bank &&
    Array.isArray(model.regimes) &&
    model.regimes.length > 0 &&
    model.regimes.every(
      (r) => positive(r?.calibration?.appearance) && positive(r?.calibration?.motion) && positive(r?.foregroundRows),
    ) &&
    [p.grid, p.channels, p.fps, p.backgroundPerCell, p.smoothFrames, model.threshold].every(positive) &&
    typeof p.backbone?.sha256 === 'string' &&
    typeof p.backbone?.tensor === 'string' &&
    (model.objects === null || typeof model.objects?.calibration === 'object');
  if (!ok) throw bad(dir, `${MODEL_FILE} lacks params, regimes, calibration, bank or threshold`);
  const bankPath = join(dir, basename(model.bank.file));
  if (!existsSync(bankPath)) throw bad(dir, `its memory bank ${model.bank.file} is missing`);
  const bytes = readFileSync(bankPath);
  const bgFloats = p.grid * p.grid * p.backgroundPerCell * p.channels;
  const expected = model.regimes.reduce((s, r) => s + (bgFloats + r.foregroundRows * p.channels) * 4, 0);
  if (bytes.length !== expected)
    throw new GuardianError(
      'CORRUPT_DATA',
      `${bankPath} has ${bytes.length} bytes; the model says ${expected} (damaged or from another model)`,
    );
  if (sha256(bytes) !== model.bank.sha256)
    throw new GuardianError('CORRUPT_DATA', `${bankPath} does not match its checksum in ${MODEL_FILE} (damaged)`);
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const banks: Banks[] = [];
  let at = 0;
  for (const r of model.regimes) {
    const fg = r.foregroundRows * p.channels;
    banks.push({
      background: all.subarray(at, at + bgFloats),
      foreground: all.subarray(at + bgFloats, at + bgFloats + fg),
    });
    at += bgFloats + fg;
  }
  return { model, banks };
}

/** Is `dir` absent, empty, or an anomaly model (something fit may replace)? */
export function replaceable(dir: string): boolean {
  if (!existsSync(dir)) return true;
  if (!statSync(dir).isDirectory()) return false;
  const entries = readdirSync(dir);
  return entries.length === 0 || entries.includes(MODEL_FILE);
}

/** Writes the model dir all at once: a sibling temporary dir renamed into place, so a failure leaves the old one.
 *  `banks` is in the order of `model.regimes` (whose row counts are taken from them). */
export function writeModelDir(
  dir: string,
  model: Omit<ModelFile, 'bank' | 'regimes'> & { regimes: Omit<RegimeBank, 'backgroundRows' | 'foregroundRows'>[] },
  banks: Banks[],
): ModelFile {
  if (!replaceable(dir))
    throw new GuardianError(
      'CONFLICT',
      `${dir} exists and is not an anomaly model: choose an empty or new directory (nothing was written)`,
    );
  if (banks.length !== model.regimes.length) throw new GuardianError('INTERNAL', 'one bank per regime');
  const bytes = Buffer.concat(
    banks.flatMap((b) => [
      Buffer.from(b.background.buffer, b.background.byteOffset, b.background.byteLength),
      Buffer.from(b.foreground.buffer, b.foreground.byteOffset, b.foreground.byteLength),
    ]),
  );
  const d = model.params.channels;
  const full: ModelFile = {
    ...model,
    regimes: model.regimes.map((r, i) => ({
      ...r,
      backgroundRows: (banks[i] as Banks).background.length / d,
      foregroundRows: (banks[i] as Banks).foreground.length / d,
    })),
    bank: { file: BANK_FILE, sha256: sha256(bytes) },
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

export type Cue = 'appearance' | 'motion' | 'object';

export interface CellScores {
  appearance: Float32Array;
  motion: Float32Array;
  /** Calibrated object cue per cell (the most unusual tracked object whose box covers the cell's centre), if any. */
  object?: Float32Array;
}

export interface FrameScore {
  /** Smoothed score (compare with the model's threshold). */
  score: number;
  /** This frame's own score (max over cells), before smoothing. */
  raw: number;
  /** The most unusual cell (or the unusual object's box), as fractions of the frame [x1, y1, x2, y2]. */
  region: [number, number, number, number];
  /** The cue that dominated there. */
  cue: Cue;
  /** For `motion`: how many times the usual motion at its most unusual (the held-out 99th percentile). */
  ratio: number;
  /** In words, for an event: "something unusual here", "bicycle: not seen here in normal footage", ... */
  explanation: string;
  /** Share of the cells above the model's threshold on their own (most of them at once: lights, IR, re-aim). */
  unusualShare: number;
  /** The regime this frame is in, and whether the model learned it (else the other regime's bank scored it). */
  regime: Regime;
  regimeLearned: boolean;
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

/** The frame's raw score from cell scores: max over cells of the calibrated sum of the cues, where, and which cue
 *  dominated there. */
export function combine(
  cells: CellScores,
  calibration: Calibration,
): { raw: number; cell: number; cue: Cue; ratio: number } {
  let raw = Number.NEGATIVE_INFINITY;
  let cell = 0;
  const obj = cells.object;
  for (let p = 0; p < cells.appearance.length; p++) {
    const v =
      (cells.appearance[p] as number) / calibration.appearance +
      (cells.motion[p] as number) / calibration.motion +
      (obj ? (obj[p] as number) : 0);
    if (v > raw) {
      raw = v;
      cell = p;
    }
  }
  const a = (cells.appearance[cell] as number) / calibration.appearance;
  const m = (cells.motion[cell] as number) / calibration.motion;
  const o = obj ? (obj[cell] as number) : 0;
  const cue: Cue = o > a && o > m ? 'object' : m > a ? 'motion' : 'appearance';
  return { raw, cell, cue, ratio: m };
}

/** The object cue on the model's grid: each object's calibrated score on the cells whose centre its box covers. */
export function objectCells(
  norms: ObjectNorms,
  objects: ObjectObservation[],
  width: number,
  height: number,
  grid: number,
): { cells: Float32Array; best: ReturnType<typeof scoreObjects> } {
  const cells = new Float32Array(grid * grid);
  let best: ReturnType<typeof scoreObjects> = null;
  for (const o of objects) {
    const s = scoreObjects(norms, [o], width, height);
    if (!s) continue;
    if (!best || s.value > best.value) best = s;
    const [x1, y1, x2, y2] = o.box;
    for (let gy = 0; gy < grid; gy++) {
      const cy = ((gy + 0.5) * height) / grid;
      if (cy < y1 || cy > y2) continue;
      for (let gx = 0; gx < grid; gx++) {
        const cx = ((gx + 0.5) * width) / grid;
        if (cx >= x1 && cx <= x2) cells[gy * grid + gx] = Math.max(cells[gy * grid + gx] as number, s.value);
      }
    }
  }
  return { cells, best };
}

/**
 * Colour or monochrome, from the backbone tensor (BGR normalised with the preset's mean/std): the mean spread
 * between channels on a 32×32 sample of pixels, in grey levels. An IR picture has none; a colour scene at dusk still
 * has several levels.
 */
export function regimeOf(
  tensor: Float32Array,
  size: number,
  mean: readonly number[],
  std: readonly number[],
): 'colour' | 'mono' {
  const plane = size * size;
  let spread = 0;
  let n = 0;
  const step = Math.max(1, Math.floor(size / 32));
  for (let y = step >> 1; y < size; y += step)
    for (let x = step >> 1; x < size; x += step) {
      const i = y * size + x;
      const b = (tensor[i] as number) * (std[0] as number) + (mean[0] as number);
      const g = (tensor[plane + i] as number) * (std[1] as number) + (mean[1] as number);
      const r = (tensor[2 * plane + i] as number) * (std[2] as number) + (mean[2] as number);
      spread += Math.max(b, g, r) - Math.min(b, g, r);
      n++;
    }
  return spread / Math.max(1, n) < MONO_SPREAD ? 'mono' : 'colour';
}

/** Grey levels of mean channel spread below which a picture is monochrome (H.264 chroma noise on a grey picture is
 *  under 1; colour footage, even at night under street lights, is 6 and more). */
export const MONO_SPREAD = 3;

/** Causal smoothing: the mean of the last n raw scores. */
export class PastMean {
  private readonly values: number[] = [];
  constructor(private readonly n: number) {}
  push(v: number): number {
    this.values.push(v);
    if (this.values.length > this.n) this.values.shift();
    return this.values.reduce((a, b) => a + b, 0) / this.values.length;
  }
  reset(): void {
    this.values.length = 0;
  }
}

export class AnomalyModel {
  /** The tensor the backbone reads (the media core converts frames to it; live scoring resamples the detector's). */
  readonly input: TensorOptions = backbonePreset;

  private constructor(
    readonly dir: string,
    readonly file: ModelFile,
    private readonly banks: Banks[],
    private readonly nearest: NearestNeighbours[],
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
    const nearest: NearestNeighbours[] = [];
    try {
      for (const b of banks) nearest.push(await NearestNeighbours.create(b.foreground, model.params.channels, 1));
      return new AnomalyModel(dir, model, banks, nearest, extractor);
    } catch (err) {
      for (const n of nearest) await n.close();
      await extractor.close();
      throw err;
    }
  }

  get threshold(): number {
    return this.file.threshold;
  }

  /** The detector whose tracks the object cues were learned from (null: the model has none). */
  get objectDetector(): ObjectNorms['detector'] | null {
    return this.file.objects?.detector ?? null;
  }

  /** A scorer for one clip or one camera: it keeps the previous motion plane and the last raw scores. */
  scorer(): FrameScorer {
    return new FrameScorer(this.file, this.banks, this.nearest, this.extractor.stream());
  }

  async close(): Promise<void> {
    for (const n of this.nearest) await n.close();
    await this.extractor.close();
  }
}

export class FrameScorer {
  private readonly smooth: PastMean;
  private lastRegime: Regime | null = null;

  constructor(
    private readonly model: ModelFile,
    private readonly banks: Banks[],
    private readonly nearest: NearestNeighbours[],
    private readonly features: FeatureStream,
  ) {
    this.smooth = new PastMean(model.params.smoothFrames);
  }

  /** A frame that is not scored: its motion plane becomes the next frame's previous one. */
  observe(frame: Pick<Frame, 'motion'>): void {
    this.features.observe(frame);
  }

  /** Which bank scores this frame: its regime's, or (not learned) the first one. */
  private pick(tensor: Float32Array): { index: number; regime: Regime; learned: boolean } {
    const regimes = this.model.regimes;
    if (regimes.length === 1 && regimes[0]?.name === 'any') return { index: 0, regime: 'any', learned: true };
    const p = backbonePreset;
    const regime = regimeOf(tensor, p.size, p.mean ?? [0, 0, 0], p.std ?? [1, 1, 1]);
    const index = regimes.findIndex((r) => r.name === regime);
    return index >= 0 ? { index, regime, learned: true } : { index: 0, regime, learned: false };
  }

  /** Scores a frame; `objects` are the camera's tracked objects on it (ignored by a model without object cues). */
  async score(frame: Frame, objects: ObjectObservation[] = []): Promise<FrameScore> {
    const f = await this.features.next(frame);
    const t0 = performance.now();
    const pick = this.pick(frame.tensor?.data as Float32Array);
    // A switch of regime (the IR cut filter) starts the smoothing afresh: the two banks' scores are not one series.
    if (this.lastRegime !== null && pick.regime !== this.lastRegime) this.smooth.reset();
    this.lastRegime = pick.regime;
    const bank = this.model.regimes[pick.index] as RegimeBank;
    const g = this.model.params.grid;
    const appearance = await appearanceScores(
      f.appearance,
      this.banks[pick.index] as Banks,
      this.nearest[pick.index] as NearestNeighbours,
      this.model.params,
    );
    const norms = this.model.objects;
    const obj = norms && objects.length ? objectCells(norms, objects, frame.width, frame.height, g) : null;
    const c = combine({ appearance, motion: f.motion, ...(obj ? { object: obj.cells } : {}) }, bank.calibration);
    const score = this.smooth.push(c.raw);
    const cal = bank.calibration;
    let unusual = 0;
    for (let p = 0; p < appearance.length; p++)
      if ((appearance[p] as number) / cal.appearance + (f.motion[p] as number) / cal.motion > this.model.threshold)
        unusual++;
    const x = c.cell % g;
    const y = Math.floor(c.cell / g);
    let region: FrameScore['region'] = [x / g, y / g, (x + 1) / g, (y + 1) / g];
    let explanation =
      c.cue === 'motion' ? `moving ${c.ratio.toFixed(1)}× more than usual here` : 'something unusual here';
    if (c.cue === 'object' && obj?.best) {
      const [bx1, by1, bx2, by2] = obj.best.box;
      const W = Math.max(1, frame.width);
      const H = Math.max(1, frame.height);
      region = [bx1 / W, by1 / H, bx2 / W, by2 / H].map((v) => Math.min(1, Math.max(0, v))) as FrameScore['region'];
      explanation = obj.best.explanation;
    }
    return {
      score,
      raw: c.raw,
      region,
      cue: c.cue,
      ratio: c.ratio,
      explanation,
      unusualShare: unusual / Math.max(1, appearance.length),
      regime: pick.regime,
      regimeLearned: pick.learned,
      ms: { backbone: f.backboneMs, score: performance.now() - t0 + f.motionMs },
    };
  }
}
