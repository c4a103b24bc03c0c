// Multi-object tracker: IoU matching against positions predicted with a constant-velocity model, stable ids,
// label voting (a van seen as "car" then "truck" stays one object), and stationary objects kept for long.
import { iou } from './nms.ts';
import type { Box, Detection } from './types.ts';

export interface TrackerOptions {
  /** Minimum IoU between a prediction and a detection to match them. */
  matchIou: number;
  /** Detections a track needs before it counts (filters one-frame false positives). */
  minHits: number;
  /** Seconds a moving object may go unseen before its track ends. */
  maxAgeSeconds: number;
  /** Seconds a stationary object may go unseen (it is re-checked rarely) before its track ends. */
  stationaryMaxAgeSeconds: number;
  /** An object whose centre stays within this share of its size for stationarySeconds is stationary. */
  stationaryMovement: number;
  stationarySeconds: number;
}

export const defaultTrackerOptions: TrackerOptions = {
  matchIou: 0.25,
  minHits: 3,
  maxAgeSeconds: 2,
  stationaryMaxAgeSeconds: 60,
  stationaryMovement: 0.15,
  stationarySeconds: 5,
};

export interface Track {
  id: number;
  label: string;
  box: Box;
  score: number;
  maxScore: number;
  scoreSum: number;
  hits: number;
  firstSeen: number;
  lastSeen: number;
  confirmed: boolean;
  stationary: boolean;
  /** Centre positions over time (bounded), for the event's box path. */
  path: { t: number; box: Box }[];
  velocity: [number, number];
  anchor: { t: number; cx: number; cy: number };
  labelScores: Map<string, number>;
}

export interface TrackedDetection extends Detection {
  trackId: number;
  stationary: boolean;
  confirmed: boolean;
}

const VEHICLES = new Set(['car', 'truck', 'bus', 'motorbike', 'motorcycle', 'train']);
export const labelGroup = (label: string): string => (VEHICLES.has(label) ? 'vehicle' : label);

const centre = (b: Box): [number, number] => [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
const MAX_PATH = 200;

// Track ids are unique in the process, not per tracker: pipelines are rebuilt when settings change, and the
// events of the old tracks are keyed by camera and track id, so a new object must never reuse an old id.
let nextTrackId = 1;

export class Tracker {
  private active: Track[] = [];

  constructor(private readonly options: TrackerOptions = defaultTrackerOptions) {}

  tracks(): readonly Track[] {
    return this.active;
  }

  /** Tracks that still move (detection keeps running while any exists). */
  moving(): Track[] {
    return this.active.filter((t) => !t.stationary);
  }

  predict(track: Track, t: number): Box {
    const dt = Math.min(2, t - track.lastSeen);
    const [vx, vy] = track.velocity;
    const b = track.box;
    return [b[0] + vx * dt, b[1] + vy * dt, b[2] + vx * dt, b[3] + vy * dt];
  }

  /** Matches this frame's detections to tracks; returns each detection with its track. */
  update(detections: Detection[], t: number): TrackedDetection[] {
    const o = this.options;
    const pairs: { ti: number; di: number; overlap: number }[] = [];
    this.active.forEach((track, ti) => {
      const predicted = this.predict(track, t);
      const group = labelGroup(track.label);
      detections.forEach((d, di) => {
        if (labelGroup(d.label) !== group) return;
        const overlap = iou(predicted, d.box);
        if (overlap >= o.matchIou) pairs.push({ ti, di, overlap });
      });
    });
    pairs.sort((a, b) => b.overlap - a.overlap);
    const trackUsed = new Set<number>();
    const detTrack = new Map<number, Track>();
    for (const p of pairs) {
      if (trackUsed.has(p.ti) || detTrack.has(p.di)) continue;
      trackUsed.add(p.ti);
      const track = this.active[p.ti];
      const det = detections[p.di];
      if (track && det) {
        this.advance(track, det, t);
        detTrack.set(p.di, track);
      }
    }
    detections.forEach((d, di) => {
      if (!detTrack.has(di)) detTrack.set(di, this.start(d, t));
    });
    // Forget tracks unseen for too long; stationary ones are kept much longer.
    this.active = this.active.filter(
      (tr) => t - tr.lastSeen <= (tr.stationary ? o.stationaryMaxAgeSeconds : o.maxAgeSeconds),
    );
    return detections.map((d, di) => {
      const track = detTrack.get(di) as Track;
      return { ...d, label: track.label, trackId: track.id, stationary: track.stationary, confirmed: track.confirmed };
    });
  }

  private start(d: Detection, t: number): Track {
    const [cx, cy] = centre(d.box);
    const track: Track = {
      id: nextTrackId++,
      label: d.label,
      box: d.box,
      score: d.score,
      maxScore: d.score,
      scoreSum: d.score,
      hits: 1,
      firstSeen: t,
      lastSeen: t,
      confirmed: this.options.minHits <= 1,
      stationary: false,
      path: [{ t, box: d.box }],
      velocity: [0, 0],
      anchor: { t, cx, cy },
      labelScores: new Map([[d.label, d.score]]),
    };
    this.active.push(track);
    return track;
  }

  private advance(track: Track, d: Detection, t: number): void {
    const o = this.options;
    const dt = Math.max(1e-3, t - track.lastSeen);
    const [px, py] = centre(track.box);
    const [cx, cy] = centre(d.box);
    track.velocity = [
      0.6 * track.velocity[0] + 0.4 * ((cx - px) / dt),
      0.6 * track.velocity[1] + 0.4 * ((cy - py) / dt),
    ];
    track.box = d.box;
    track.score = d.score;
    track.maxScore = Math.max(track.maxScore, d.score);
    track.scoreSum += d.score;
    track.hits++;
    track.lastSeen = t;
    if (track.hits >= o.minHits) track.confirmed = true;
    track.labelScores.set(d.label, (track.labelScores.get(d.label) ?? 0) + d.score);
    track.label = [...track.labelScores.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? d.label;
    track.path.push({ t, box: d.box });
    if (track.path.length > MAX_PATH) track.path.splice(0, track.path.length - MAX_PATH);
    // Stationary: the centre has stayed near its anchor for long enough.
    const size = Math.max(d.box[2] - d.box[0], d.box[3] - d.box[1], 1);
    const moved = Math.hypot(cx - track.anchor.cx, cy - track.anchor.cy);
    if (moved > o.stationaryMovement * size) {
      track.anchor = { t, cx, cy };
      track.stationary = false;
    } else if (t - track.anchor.t >= o.stationarySeconds) {
      track.stationary = true;
      track.velocity = [0, 0];
    }
  }
}
