// Tamper and camera faults, per camera, from the grey motion plane the media core already makes (160 px wide): a
// covered lens, defocus, a re-aimed camera, sudden darkness and a frozen picture. Everything is measured against a
// reference learned from the camera's own picture (a slow average of the scene), so a dim scene or a plain wall is
// no fault; a condition must last a few seconds to start, and the picture must be back for a while to end it.
//
// Per frame, one pass over the plane (about 0.4 ms on 160x120, see docs/benchmarks.md):
// - a 32x24 thumbnail of cell means; on 16x12 blocks (2x2 cells) the mean, standard deviation and mean gradient
//   (|dx|+|dy|) of each block; the plane's mean and standard deviation; how much it differs from the previous one.
// Against the reference:
// - contrast per block (standard deviation now over the reference's): a cover or darkness lowers it;
// - sharpness: the median over blocks of (gradient now / reference's), divided by the change of the whole plane's
//   standard deviation. Gain and offset (lighting) leave it near 1; blur lowers the fine gradients far more than the
//   contrast, so it falls;
// - coarse structure: normalised cross-correlation of the thumbnail, and of its gradients (alignment), with the
//   reference's at the best shift of up to 2 cells (6 % of the width): a camera shaken by the wind still matches.
// Kinds, in priority order (a frame counts for at most one of the first four):
// - covered: 75 % of the textured blocks lost their contrast and what is left there does not correlate with the
//   reference (a hand, a bag, spray paint, tape: dark, bright or coloured; a picture gone pitch black too);
// - dark: the mean brightness fell below 35 % of the reference's (and by 25 grey levels or more) while the scene
//   is still visible; a slow day/night change moves the reference with it, and lights switched on or off (a change
//   of less than that) are no fault;
// - defocused: sharpness below 0.55 while the brightness and the coarse structure stayed;
// - moved: the thumbnail's gradients no longer match the reference at any small shift (alignment below 0.5) while
//   the picture is sharp;
// - frozen: consecutive planes are (nearly) bit-identical: a live sensor always has some noise, a frozen stream
//   none. A covered picture is reported as covered, not frozen.
// Each kind has a start threshold and a looser one to hold (hysteresis in value), a start delay, and an end delay.
// The reference follows the scene (time constant referenceSeconds) only while no kind is pending or active. A
// `moved` that lasts relearnMovedSeconds (10 min) is taken as the camera's new view: it ends and the reference is
// learned again. Lighting changes over the whole frame, rain (noise), people and cars change none of these enough
// (test/integration/tamper.test.ts).

import type { TamperKind } from '../media/protocol.ts'; // the boundary owns the type: the media process reports it

export type { TamperKind };

/** The kinds in priority order: the first active one is the camera's current tamper state. */
export const TAMPER_KINDS: readonly TamperKind[] = ['covered', 'dark', 'defocused', 'moved', 'frozen'];

export interface TamperChange {
  kind: TamperKind;
  state: 'start' | 'end';
  /** Seconds (of the times given to update()): when the condition began (start), or when it cleared (end). */
  atS: number;
}

export interface TamperOptions {
  /** Seconds of picture averaged into the first reference (nothing is reported before). */
  learnSeconds: number;
  /** Time constant of the slowly updated reference, in seconds. */
  referenceSeconds: number;
  /** A `moved` lasting this long becomes the new reference (the camera was re-aimed on purpose). */
  relearnMovedSeconds: number;
  /** How long each condition must hold before it starts. */
  startAfterSeconds: Record<TamperKind, number>;
  /** How long the picture must be back before a condition ends. */
  endAfterSeconds: Record<TamperKind, number>;
  /** A pending condition survives interruptions up to this long (frozen: none). */
  gapSeconds: Record<TamperKind, number>;
}

export const defaultTamperOptions: TamperOptions = {
  learnSeconds: 3,
  referenceSeconds: 60,
  relearnMovedSeconds: 600,
  startAfterSeconds: { covered: 3, dark: 3, defocused: 4, moved: 6, frozen: 5 },
  endAfterSeconds: { covered: 2, dark: 2, defocused: 2, moved: 3, frozen: 1 },
  gapSeconds: { covered: 1, dark: 1, defocused: 1, moved: 1.5, frozen: 0 },
};

/** What one frame measured against the reference (for tests and tuning). */
export interface TamperFeatures {
  /** Mean brightness over the reference's. */
  brightness: number;
  /** Blocks with texture in the reference (the others cannot lose any). */
  texturedBlocks: number;
  /** Share of the textured blocks whose contrast fell below 30 % of the reference's. */
  blankFraction: number;
  /** Sharpness against the reference (1: as sharp; gain and offset leave it unchanged, blur lowers it). */
  sharpness: number;
  /** Correlation of the blank blocks' means with the reference's (0 when they are uniform): darkness keeps it. */
  blankCorrelation: number;
  /** Best correlation of the thumbnail with the reference over small shifts. */
  structure: number;
  /** Best correlation of the thumbnail's gradients with the reference's over small shifts. */
  alignment: number;
  /** Share of pixels that changed by more than 2 grey levels since the previous frame (null: no previous frame). */
  changedFraction: number | null;
  /** Mean absolute difference from the previous frame. */
  meanDifference: number | null;
}

export interface GreyPlane {
  data: Uint8Array;
  width: number;
  height: number;
}

const TW = 32; // thumbnail cells
const TH = 24;
const TN = TW * TH;
const BW = 16; // texture blocks (2x2 thumbnail cells)
const BH = 12;
const BN = BW * BH;
const SHIFT = 2; // alignment search, in thumbnail cells
const MIN_TEXTURE = 1.5; // mean gradient of a reference block that counts as textured
const MIN_CONTRAST = 2; // and its standard deviation

/** What one frame measures, and (as a slow average of frames) the reference. */
interface Sample {
  /** Cell means (the thumbnail). */
  thumb: Float64Array;
  /** Mean gradient per cell: where the edges are, whatever their polarity. */
  edges: Float64Array;
  blockMean: Float64Array;
  blockStd: Float64Array;
  blockGrad: Float64Array;
  mean: number;
  std: number;
}

const ARRAYS = ['thumb', 'edges', 'blockMean', 'blockStd', 'blockGrad'] as const;

function emptySample(): Sample {
  return {
    thumb: new Float64Array(TN),
    edges: new Float64Array(TN),
    blockMean: new Float64Array(BN),
    blockStd: new Float64Array(BN),
    blockGrad: new Float64Array(BN),
    mean: 0,
    std: 0,
  };
}

/** to += weight * (from - to), field by field (weight 1 copies). */
function blend(to: Sample, from: Sample, weight: number): void {
  for (const k of ARRAYS) {
    const a = to[k];
    const b = from[k];
    for (let i = 0; i < a.length; i++) a[i] = (a[i] as number) + weight * ((b[i] as number) - (a[i] as number));
  }
  to.mean += weight * (from.mean - to.mean);
  to.std += weight * (from.std - to.std);
}

interface KindState {
  /** Onset of the pending or active condition. */
  since: number | null;
  lastTrue: number;
  active: boolean;
  activeAt: number;
  clearSince: number | null;
}

/** A grid of cells: the thumbnail's or the blocks'. */
interface Grid {
  w: number;
  h: number;
}

const CELLS: Grid = { w: TW, h: TH };
const BLOCKS: Grid = { w: BW, h: BH };

/**
 * Normalised cross-correlation of a with b shifted by (dx, dy), over the cells where `mask` (if any) is set; 0 when
 * either side is (nearly) uniform there: a uniform picture matches nothing.
 */
function correlation(
  a: Float64Array,
  b: Float64Array,
  g: Grid,
  dx: number,
  dy: number,
  minVariance: number,
  mask?: Uint8Array,
): number {
  let n = 0;
  let sa = 0;
  let sb = 0;
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  const { w, h } = g;
  for (let y = Math.max(0, -dy); y < Math.min(h, h - dy); y++) {
    const row = y * w;
    const row2 = (y + dy) * w + dx;
    for (let x = Math.max(0, -dx); x < Math.min(w, w - dx); x++) {
      if (mask && !mask[row + x]) continue;
      const va = a[row + x] as number;
      const vb = b[row2 + x] as number;
      n++;
      sa += va;
      sb += vb;
      saa += va * va;
      sbb += vb * vb;
      sab += va * vb;
    }
  }
  if (n < 4) return 0;
  const ma = sa / n;
  const mb = sb / n;
  const va = saa / n - ma * ma;
  const vb = sbb / n - mb * mb;
  if (va < minVariance || vb < minVariance) return 0;
  return (sab / n - ma * mb) / Math.sqrt(va * vb);
}

/** The best correlation over shifts of up to SHIFT cells each way (a camera shaken by the wind still matches). */
function bestCorrelation(a: Float64Array, b: Float64Array, minVariance: number): number {
  let best = 0;
  for (let dy = -SHIFT; dy <= SHIFT; dy++)
    for (let dx = -SHIFT; dx <= SHIFT; dx++) best = Math.max(best, correlation(a, b, CELLS, dx, dy, minVariance));
  return best;
}

export class TamperDetector {
  readonly options: TamperOptions;
  /** What the last frame measured (null while the reference is being learnt). */
  features: TamperFeatures | null = null;
  private width = 0;
  private height = 0;
  // Cell column cx covers x in [colStart[cx], colStart[cx + 1]); row y belongs to cell row rowCell[y].
  private colStart = new Int32Array(0);
  private rowCell = new Uint8Array(0);
  private readonly cellCount = new Float64Array(TN);
  private readonly cellGradCount = new Float64Array(TN);
  private readonly cellSq = new Float64Array(TN);
  private prev: Uint8Array | null = null;
  private lastT: number | null = null;
  private readonly frame = emptySample();
  /** The reference; null while learning (then `learning` sums frames). */
  private ref: Sample | null = null;
  private readonly learning = emptySample();
  private learnFrames = 0;
  private learnFrom: number | null = null;
  private readonly state = new Map<TamperKind, KindState>();
  private readonly blank = new Uint8Array(BN);

  constructor(options: Partial<TamperOptions> = {}) {
    this.options = { ...defaultTamperOptions, ...options };
    for (const k of TAMPER_KINDS)
      this.state.set(k, { since: null, lastTrue: 0, active: false, activeAt: 0, clearSince: null });
  }

  /** The kinds in effect now, in priority order. */
  get active(): TamperKind[] {
    return TAMPER_KINDS.filter((k) => this.state.get(k)?.active);
  }

  /** The camera's tamper state: the first active kind, or null. */
  get current(): TamperKind | null {
    return this.active[0] ?? null;
  }

  /** Whether the reference is learnt (before that, nothing is reported). */
  get learned(): boolean {
    return this.ref !== null;
  }

  /** One sampled frame's grey plane at `t` seconds; returns the conditions that started or ended. */
  update(plane: GreyPlane, t: number): TamperChange[] {
    const changes: TamperChange[] = [];
    const { width: w, height: h, data } = plane;
    if (w < TW || h < TH || data.length < w * h) return changes;
    if (w !== this.width || h !== this.height) {
      // Another stream (the camera was changed): start over.
      changes.push(...this.finish(t));
      this.resize(w, h);
    }
    const dt = this.lastT === null ? 0 : t - this.lastT;
    if (this.lastT !== null && (dt < 0 || dt > 10)) {
      // A gap (reconnect) or time going back (a file looped): no frame difference; pending conditions drop.
      this.prev = null;
      for (const s of this.state.values()) if (!s.active) s.since = null;
    }
    this.lastT = t;
    const diff = this.measure(data, w, h);
    if (!this.ref) {
      this.learn(t);
      this.features = null;
      return changes;
    }
    const f = this.compare(diff);
    this.features = f;
    // A reference learnt from a covered or black picture says nothing: learn again once there is a scene.
    if (f.texturedBlocks < BN * 0.2 && this.texturedNow() >= BN * 0.4 && !this.active.length) {
      this.relearn();
      return changes;
    }
    const flags = this.classify(f);
    for (const kind of TAMPER_KINDS) {
      const change = this.step(kind, flags[kind], t);
      if (change) changes.push(change);
    }
    // A re-aimed camera that stays so: its new view becomes the reference.
    const moved = this.state.get('moved') as KindState;
    if (moved.active && t - moved.activeAt >= this.options.relearnMovedSeconds) {
      moved.active = false;
      moved.since = null;
      moved.clearSince = null;
      changes.push({ kind: 'moved', state: 'end', atS: t });
      this.relearn();
      return changes;
    }
    const quiet = [...this.state.values()].every((s) => !s.active && s.since === null);
    if (quiet && dt > 0) blend(this.ref, this.frame, Math.min(1, dt / this.options.referenceSeconds));
    return changes;
  }

  /** Ends whatever is active (the stream ended, the camera was removed), at `t` seconds. */
  finish(t: number): TamperChange[] {
    const changes: TamperChange[] = [];
    for (const kind of TAMPER_KINDS) {
      const s = this.state.get(kind) as KindState;
      if (s.active) changes.push({ kind, state: 'end', atS: t });
      s.active = false;
      s.since = null;
      s.clearSince = null;
    }
    return changes;
  }

  private resize(w: number, h: number): void {
    this.width = w;
    this.height = h;
    this.colStart = new Int32Array(TW + 1);
    for (let cx = 0; cx <= TW; cx++) this.colStart[cx] = Math.ceil((cx * w) / TW);
    this.rowCell = new Uint8Array(h);
    for (let y = 0; y < h; y++) this.rowCell[y] = Math.min(TH - 1, Math.floor((y * TH) / h));
    // Pixels per cell, and pixels with a right and a lower neighbour (the gradient's).
    this.cellCount.fill(0);
    this.cellGradCount.fill(0);
    for (let y = 0; y < h; y++)
      for (let cx = 0; cx < TW; cx++) {
        const c = (this.rowCell[y] as number) * TW + cx;
        const x0 = this.colStart[cx] as number;
        const x1 = this.colStart[cx + 1] as number;
        this.cellCount[c] = (this.cellCount[c] as number) + (x1 - x0);
        if (y < h - 1) this.cellGradCount[c] = (this.cellGradCount[c] as number) + (Math.min(x1, w - 1) - x0);
      }
    this.prev = null;
    this.relearn();
  }

  private relearn(): void {
    this.ref = null;
    this.learnFrom = null;
    this.learnFrames = 0;
    blend(this.learning, emptySample(), 1);
  }

  /** One pass over the plane into this.frame; returns the difference from the previous plane (null: none). */
  private measure(data: Uint8Array, w: number, h: number): { changed: number; diff: number } | null {
    const { thumb, edges, blockMean, blockStd, blockGrad } = this.frame;
    const { cellSq, cellCount, cellGradCount, colStart, rowCell } = this;
    thumb.fill(0);
    edges.fill(0);
    cellSq.fill(0);
    let total = 0;
    let total2 = 0;
    for (let y = 0; y < h; y++) {
      const row = y * w;
      const below = y < h - 1 ? w : 0; // the last row has no lower neighbour
      const cellRow = (rowCell[y] as number) * TW;
      for (let cx = 0; cx < TW; cx++) {
        const x0 = colStart[cx] as number;
        const x1 = colStart[cx + 1] as number;
        let s = 0;
        let sq = 0;
        let g = 0;
        // Gradients of pixels with a right and a lower neighbour; the last column and row only add to the means.
        const gx1 = below ? Math.min(x1, w - 1) : x0;
        for (let i = row + x0, end = row + gx1; i < end; i++) {
          const v = data[i] as number;
          s += v;
          sq += v * v;
          const dx = (data[i + 1] as number) - v;
          const dy = (data[i + below] as number) - v;
          g += (dx < 0 ? -dx : dx) + (dy < 0 ? -dy : dy);
        }
        for (let i = row + gx1, end = row + x1; i < end; i++) {
          const v = data[i] as number;
          s += v;
          sq += v * v;
        }
        const c = cellRow + cx;
        thumb[c] = (thumb[c] as number) + s;
        cellSq[c] = (cellSq[c] as number) + sq;
        edges[c] = (edges[c] as number) + g;
        total += s;
        total2 += sq;
      }
    }
    const n = w * h;
    this.frame.mean = total / n;
    this.frame.std = Math.sqrt(Math.max(0, total2 / n - this.frame.mean * this.frame.mean));
    // 16x12 blocks from 2x2 cells.
    for (let by = 0; by < BH; by++)
      for (let bx = 0; bx < BW; bx++) {
        let s = 0;
        let sq = 0;
        let count = 0;
        let g = 0;
        let gn = 0;
        for (let k = 0; k < 4; k++) {
          const c = (by * 2 + (k >> 1)) * TW + bx * 2 + (k & 1);
          s += thumb[c] as number;
          sq += cellSq[c] as number;
          count += cellCount[c] as number;
          g += edges[c] as number;
          gn += cellGradCount[c] as number;
        }
        const b = by * BW + bx;
        blockMean[b] = count ? s / count : 0;
        blockStd[b] = count ? Math.sqrt(Math.max(0, sq / count - (s / count) ** 2)) : 0;
        blockGrad[b] = gn ? g / gn : 0;
      }
    for (let c = 0; c < TN; c++) {
      const count = cellCount[c] as number;
      const gn = cellGradCount[c] as number;
      thumb[c] = count ? (thumb[c] as number) / count : 0;
      edges[c] = gn ? (edges[c] as number) / gn : 0;
    }
    const prev = this.prev && this.prev.length === n ? this.prev : null;
    if (!prev) {
      this.prev = data.slice(0, n);
      return null;
    }
    let changed = 0;
    let diff = 0;
    for (let i = 0; i < n; i++) {
      const d = (data[i] as number) - (prev[i] as number);
      const ad = d < 0 ? -d : d;
      diff += ad;
      if (ad > 2) changed++;
    }
    prev.set(data.subarray(0, n));
    return { changed: changed / n, diff: diff / n };
  }

  private learn(t: number): void {
    this.learnFrom ??= t;
    this.learnFrames++;
    blend(this.learning, this.frame, 1 / this.learnFrames); // the running mean of the frames so far
    if (t - this.learnFrom < this.options.learnSeconds || this.learnFrames < 5) return;
    this.ref = emptySample();
    blend(this.ref, this.learning, 1);
  }

  private texturedNow(): number {
    let n = 0;
    for (let b = 0; b < BN; b++)
      if ((this.frame.blockGrad[b] as number) >= MIN_TEXTURE && (this.frame.blockStd[b] as number) >= MIN_CONTRAST) n++;
    return n;
  }

  private compare(diff: { changed: number; diff: number } | null): TamperFeatures {
    const ref = this.ref as Sample;
    const now = this.frame;
    const ratios: number[] = [];
    let blank = 0;
    this.blank.fill(0);
    for (let b = 0; b < BN; b++) {
      const rg = ref.blockGrad[b] as number;
      const rs = ref.blockStd[b] as number;
      if (rg < MIN_TEXTURE || rs < MIN_CONTRAST) continue;
      // Fine gradients against the reference's (divided below by the change of the whole picture's contrast).
      ratios.push((now.blockGrad[b] as number) / rg);
      // Contrast gone: a cover, or darkness (told apart by what is left of the scene's layout).
      if (((now.blockStd[b] as number) + 1) / (rs + 1) < 0.3) {
        blank++;
        this.blank[b] = 1;
      }
    }
    ratios.sort((a, b) => a - b);
    const textured = ratios.length;
    return {
      brightness: now.mean / Math.max(1, ref.mean),
      texturedBlocks: textured,
      blankFraction: textured ? blank / textured : 0,
      sharpness: textured ? ((ratios[textured >> 1] as number) * (ref.std + 1)) / (now.std + 1) : 1,
      blankCorrelation: blank >= 4 ? correlation(now.blockMean, ref.blockMean, BLOCKS, 0, 0, 4, this.blank) : 0,
      structure: bestCorrelation(now.thumb, ref.thumb, 1),
      alignment: bestCorrelation(now.edges, ref.edges, 0.25),
      changedFraction: diff ? diff.changed : null,
      meanDifference: diff ? diff.diff : null,
    };
  }

  /** Which conditions this frame shows; a pending or active condition is held to looser thresholds (hysteresis). */
  private classify(f: TamperFeatures): Record<TamperKind, boolean> {
    const th = (k: TamperKind, start: number, hold: number) => {
      const s = this.state.get(k) as KindState;
      return s.active || s.since !== null ? hold : start;
    };
    const ref = this.ref as Sample;
    // Too little texture in the reference (a black night, a plain wall) to tell a cover or blur from the scene.
    const judgeable = f.texturedBlocks >= BN * 0.2;
    const covered =
      judgeable && f.blankFraction >= th('covered', 0.75, 0.6) && f.blankCorrelation < th('covered', 0.5, 0.6);
    const dark = !covered && f.brightness < th('dark', 0.35, 0.5) && ref.mean - this.frame.mean >= th('dark', 25, 15);
    const defocused =
      judgeable &&
      !covered &&
      !dark &&
      f.sharpness < th('defocused', 0.55, 0.7) &&
      f.structure >= 0.75 &&
      f.brightness > 0.5 &&
      f.brightness < 2;
    // Re-aimed or frozen only say something about a picture that shows a scene (a uniform one is covered).
    const scene = this.texturedNow() >= BN * 0.2;
    const moved =
      judgeable &&
      scene &&
      !covered &&
      !dark &&
      !defocused &&
      f.alignment < th('moved', 0.6, 0.72) &&
      f.sharpness >= 0.6;
    const frozen =
      scene && !covered && f.changedFraction !== null && f.changedFraction <= 0.0005 && (f.meanDifference ?? 1) < 0.1;
    return { covered, dark, defocused, moved, frozen };
  }

  /** Advances one kind's hysteresis; returns its change, if any. */
  private step(kind: TamperKind, flag: boolean, t: number): TamperChange | null {
    const s = this.state.get(kind) as KindState;
    const o = this.options;
    if (!s.active) {
      if (flag) {
        s.since ??= t;
        s.lastTrue = t;
        if (t - s.since >= o.startAfterSeconds[kind]) {
          s.active = true;
          s.activeAt = t;
          s.clearSince = null;
          return { kind, state: 'start', atS: s.since };
        }
      } else if (s.since !== null && t - s.lastTrue > o.gapSeconds[kind]) s.since = null;
      return null;
    }
    if (flag) {
      s.clearSince = null;
      return null;
    }
    s.clearSince ??= t;
    if (t - s.clearSince < o.endAfterSeconds[kind]) return null;
    const at = s.clearSince;
    s.active = false;
    s.since = null;
    s.clearSince = null;
    return { kind, state: 'end', atS: at };
  }
}
