// Object-level cues of the anomaly model: what this camera normally sees where, learned from the tracks of its normal
// footage (the detector and tracker the camera runs live). Per region of a coarse grid over the frame (the cell under
// a track's foot point, the bottom centre of its box):
// - class: how often each class is seen there (backed off to the whole frame, and to "never seen" with add-one
//   smoothing), so a bicycle where only people walk is rare;
// - speed, in box heights per second (the same walk is the same speed near and far): its typical value (median) and
//   its 99th percentile there, per class;
// - direction of moving tracks: an 8-bin histogram there, per class (the wrong way along a path is rare);
// - size: the mean and spread of log box height there, per class (a person the size of a car is rare).
// Each cue is a rarity (−ln of a probability, or how far above the usual; class, direction and size weighted by the
// detection's confidence), divided by its 99th percentile on the held-out normal clips' objects (at least a floor),
// and only the excess over 1 counts: an object is unusual when it is beyond what normal footage shows.
import type { Track } from '../detect/tracker.ts';
import type { Box } from '../detect/types.ts';

/** A tracked object on one frame, in frame pixels. */
export interface ObjectObservation {
  label: string;
  score: number;
  box: Box;
  /** Pixels per second (the tracker's constant-velocity estimate). */
  velocity: [number, number];
}

export type ObjectCue = 'class' | 'speed' | 'direction' | 'size';
const CUES: ObjectCue[] = ['class', 'speed', 'direction', 'size'];

/** Regions per side of the object grid (coarse: tracks are few, and a region must hold enough of them). */
export const OBJECT_GRID = 4;
const DIRECTIONS = 8;
/** Moving slower than this (box heights per second) has no direction worth learning. */
const MIN_DIRECTION_SPEED = 0.2;
/** Observations a region needs before its own statistics replace the frame-wide ones (backoff weight). */
const BACKOFF = 20;
/** Classes the smoothing assumes could appear (COCO). */
const CLASS_UNIVERSE = 80;

interface Stats {
  n: number;
  /** Speed median and 99th percentile (box heights per second). */
  speedP50: number;
  speedP99: number;
  /** Direction histogram counts (moving observations only). */
  directions: number[];
  /** Mean and standard deviation of ln(box height / frame height). */
  logSize: [number, number];
}

export interface ObjectNorms {
  grid: number;
  /** Detector the tracks came from (a camera running another one gets no object cues). */
  detector: { model: string; sha256: string; classes: Record<string, { minScore: number }> };
  /** Observations in all: the denominator of the class rarity. */
  total: number;
  /** Per class: frame-wide stats and per-region stats (null where the class was never seen). */
  classes: Record<string, { all: Stats; regions: (Stats | null)[] }>;
  /** Per region: observations of any class. */
  regionTotals: number[];
  /** 99th percentile of each cue's per-frame maximum on held-out normal frames (1 = as unusual as 1 % of them). */
  calibration: Record<ObjectCue, number>;
}

export interface ObjectScore {
  /** Calibrated: the largest of the cues, 1 = the held-out 99th percentile. */
  value: number;
  cue: ObjectCue;
  box: Box;
  label: string;
  /** How many times the usual speed here (median), for the explanation. */
  speedRatio: number;
  explanation: string;
}

const speedOf = (o: ObjectObservation) => Math.hypot(o.velocity[0], o.velocity[1]) / Math.max(1, o.box[3] - o.box[1]);
const directionOf = (o: ObjectObservation) => {
  const a = Math.atan2(o.velocity[1], o.velocity[0]);
  return ((Math.round((a / (2 * Math.PI)) * DIRECTIONS) % DIRECTIONS) + DIRECTIONS) % DIRECTIONS;
};
const regionOf = (box: Box, width: number, height: number, grid: number) => {
  const x = Math.min(grid - 1, Math.max(0, Math.floor((((box[0] + box[2]) / 2) * grid) / Math.max(1, width))));
  const y = Math.min(grid - 1, Math.max(0, Math.floor((box[3] * grid) / Math.max(1, height))));
  return y * grid + x;
};

/** Observations of a tracker's confirmed tracks seen at time `t` (the frame the detector just ran on). */
export function observationsOf(tracks: readonly Track[], t: number): ObjectObservation[] {
  return tracks
    .filter((tr) => tr.confirmed && tr.lastSeen === t)
    .map((tr) => ({ label: tr.label, score: tr.score, box: tr.box, velocity: tr.velocity }));
}

function quantile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

class StatsBuilder {
  speeds: number[] = [];
  directions = new Array<number>(DIRECTIONS).fill(0);
  logSizes: number[] = [];
  add(o: ObjectObservation, frameHeight: number) {
    const s = speedOf(o);
    this.speeds.push(s);
    if (s >= MIN_DIRECTION_SPEED) this.directions[directionOf(o)] = (this.directions[directionOf(o)] as number) + 1;
    this.logSizes.push(Math.log(Math.max(1, o.box[3] - o.box[1]) / Math.max(1, frameHeight)));
  }
  build(): Stats {
    const s = [...this.speeds].sort((a, b) => a - b);
    const mean = this.logSizes.reduce((a, b) => a + b, 0) / Math.max(1, this.logSizes.length);
    const sd = Math.sqrt(this.logSizes.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, this.logSizes.length));
    return {
      n: this.speeds.length,
      speedP50: quantile(s, 0.5),
      speedP99: quantile(s, 0.99),
      directions: this.directions,
      logSize: [mean, sd],
    };
  }
}

/** Collects the tracks of normal footage, then builds the norms (calibration is set afterwards on held-out clips). */
export class ObjectNormsBuilder {
  private readonly all = new Map<string, StatsBuilder>();
  private readonly regions = new Map<string, StatsBuilder[]>();
  private readonly regionTotals: number[];
  private total = 0;

  constructor(private readonly grid = OBJECT_GRID) {
    this.regionTotals = new Array<number>(grid * grid).fill(0);
  }

  add(objects: ObjectObservation[], width: number, height: number): void {
    for (const o of objects) {
      const r = regionOf(o.box, width, height, this.grid);
      let a = this.all.get(o.label);
      if (!a) this.all.set(o.label, (a = new StatsBuilder()));
      let rs = this.regions.get(o.label);
      if (!rs) this.regions.set(o.label, (rs = Array.from({ length: this.grid ** 2 }, () => new StatsBuilder())));
      a.add(o, height);
      (rs[r] as StatsBuilder).add(o, height);
      this.regionTotals[r] = (this.regionTotals[r] as number) + 1;
      this.total++;
    }
  }

  get observations(): number {
    return this.total;
  }

  build(detector: ObjectNorms['detector']): ObjectNorms {
    const classes: ObjectNorms['classes'] = {};
    for (const [label, a] of this.all)
      classes[label] = {
        all: a.build(),
        regions: (this.regions.get(label) as StatsBuilder[]).map((r) => (r.speeds.length ? r.build() : null)),
      };
    return {
      grid: this.grid,
      detector,
      total: this.total,
      classes,
      regionTotals: this.regionTotals,
      calibration: { class: 1, speed: 1, direction: 1, size: 1 },
    };
  }
}

/** The fastest class's usual speeds: the reference for a class never seen. Computed once per norms, not per object. */
const anySpeedCache = new WeakMap<ObjectNorms['classes'], { p50: number; p99: number }>();
function anySpeed(norms: ObjectNorms): { p50: number; p99: number } {
  let v = anySpeedCache.get(norms.classes);
  if (!v) {
    const all = Object.values(norms.classes).map((k) => k.all);
    v = { p50: Math.max(0.02, ...all.map((k) => k.speedP50)), p99: Math.max(0.05, ...all.map((k) => k.speedP99)) };
    anySpeedCache.set(norms.classes, v);
  }
  return v;
}

/** Raw (uncalibrated) cues of one observation against the norms. */
export function objectCues(
  norms: ObjectNorms,
  o: ObjectObservation,
  width: number,
  height: number,
): Record<ObjectCue, number> & { speedRatio: number } {
  const r = regionOf(o.box, width, height, norms.grid);
  const c = norms.classes[o.label];
  const here = c?.regions[r] ?? null;
  // Class: P(class | region), backed off to P(class) over the frame, itself add-one smoothed over the universe.
  const pClass = ((c?.all.n ?? 0) + 1) / (norms.total + CLASS_UNIVERSE);
  const nHere = here?.n ?? 0;
  const pHere = (nHere + BACKOFF * pClass) / ((norms.regionTotals[r] ?? 0) + BACKOFF);
  const classCue = o.score * -Math.log(pHere);
  // Speed: how far above this class's 99th percentile here (backed off to the frame, then to any class).
  const ref = here && here.n >= BACKOFF ? here : (c?.all ?? null);
  const speed = speedOf(o);
  const p99 = Math.max(0.05, ref?.speedP99 ?? anySpeed(norms).p99);
  const p50 = Math.max(0.02, ref?.speedP50 ?? anySpeed(norms).p50);
  const speedCue = speed / p99;
  // Direction: −ln P(direction | class, region), add-one smoothed; only for tracks that move.
  let directionCue = 0;
  if (speed >= MIN_DIRECTION_SPEED) {
    const h = here && here.n >= BACKOFF ? here.directions : (c?.all.directions ?? []);
    const n = h.reduce((a, b) => a + b, 0);
    directionCue = o.score * -Math.log(((h[directionOf(o)] ?? 0) + 1) / (n + DIRECTIONS));
  }
  // Size: standard deviations of log height from this class's mean here.
  const sref = here && here.n >= BACKOFF ? here : (c?.all ?? null);
  const logH = Math.log(Math.max(1, o.box[3] - o.box[1]) / Math.max(1, height));
  const sizeCue = sref ? o.score * (Math.abs(logH - sref.logSize[0]) / Math.max(0.1, sref.logSize[1])) : 0;
  return { class: classCue, speed: speedCue, direction: directionCue, size: sizeCue, speedRatio: speed / p50 };
}

/** The most unusual object of a frame (calibrated), or null when there is none. */
export function scoreObjects(
  norms: ObjectNorms,
  objects: ObjectObservation[],
  width: number,
  height: number,
): ObjectScore | null {
  let best: ObjectScore | null = null;
  for (const o of objects) {
    const raw = objectCues(norms, o, width, height);
    for (const cue of CUES) {
      // Only what is beyond normal counts: up to its calibration (the held-out 99th percentile, or the floor) a cue
      // adds nothing, so the tracker's jitter on normal objects does not lift every frame's score.
      const value = Math.max(0, raw[cue] / norms.calibration[cue] - 1);
      if (!best || value > best.value)
        best = { value, cue, box: o.box, label: o.label, speedRatio: raw.speedRatio, explanation: '' };
    }
  }
  if (best) best.explanation = explainObject(norms, best);
  return best;
}

function explainObject(norms: ObjectNorms, s: ObjectScore): string {
  const seen = norms.classes[s.label];
  switch (s.cue) {
    case 'class':
      return seen ? `${s.label} where one is rarely seen` : `${s.label}: not seen here in normal footage`;
    case 'speed':
      return `${s.label} moving ${Math.max(1, s.speedRatio).toFixed(1)}× faster than usual here`;
    case 'direction':
      return `${s.label} moving in an unusual direction here`;
    case 'size':
      return `${s.label} of an unusual size here`;
  }
}

/** Per-frame maxima of each raw cue (for calibration on held-out clips). */
export function frameCueMaxima(
  norms: ObjectNorms,
  objects: ObjectObservation[],
  width: number,
  height: number,
): Record<ObjectCue, number> {
  const m: Record<ObjectCue, number> = { class: 0, speed: 0, direction: 0, size: 0 };
  for (const o of objects) {
    const raw = objectCues(norms, o, width, height);
    for (const cue of CUES) m[cue] = Math.max(m[cue], raw[cue]);
  }
  return m;
}

/** The least each cue's calibration may be, whatever the held-out clips show: a class seen in under 1 in 100 of
 *  this camera's objects (at confidence 0.5), its usual top speed (the 99th percentile here), a direction taken by
 *  under 1 in 20 moving objects, three spreads from its usual size. Without these, a camera whose held-out footage shows only people
 *  would make the first unusual detector flicker a large score. */
export const OBJECT_CALIBRATION_FLOORS: Record<ObjectCue, number> = {
  class: 0.5 * Math.log(100),
  speed: 1,
  direction: Math.log(20),
  size: 3,
};

/** Calibrates the norms on the held-out clips' observations: each cue's 99th percentile, at least its floor. */
export function calibrateObjects(
  norms: ObjectNorms,
  heldOut: { objects: ObjectObservation[]; width: number; height: number }[],
): ObjectNorms {
  const values: Record<ObjectCue, number[]> = { class: [], speed: [], direction: [], size: [] };
  for (const f of heldOut)
    for (const o of f.objects) {
      const raw = objectCues(norms, o, f.width, f.height);
      for (const cue of CUES) values[cue].push(raw[cue]);
    }
  const calibration = { ...norms.calibration };
  for (const cue of CUES) {
    const s = values[cue].sort((a, b) => a - b);
    calibration[cue] = Math.max(OBJECT_CALIBRATION_FLOORS[cue], quantile(s, 0.99));
  }
  return { ...norms, calibration };
}
