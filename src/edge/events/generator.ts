// Turns tracked detections into events: an event starts when a track of an enabled class is confirmed (and, when
// the camera requires zones, is in one), follows the track, and ends once the object has been gone for a while.
import type { Logger } from '../../shared/log.ts';
import type { Box } from '../detect/types.ts';
import type { FrameDetections, TrackedObject } from '../media/protocol.ts';
import type { EventRecord, EventStore } from './store.ts';

export type { FrameDetections, TrackedObject };

export interface GeneratorOptions {
  classes: Set<string>;
  endAfterSeconds: number;
  requiredZones: (cameraId: string) => string[];
}

export interface GeneratorHooks {
  /** Best snapshot of the event: a JPEG of that frame, saved; returns file names relative to the data dir. */
  snapshot(
    event: EventRecord,
    frame: FrameDetections,
    box: Box,
  ): Promise<({ snapshot: string; thumbnail: string } & Partial<Pick<EventRecord, 'secondOpinion'>>) | null>;
  ended(event: EventRecord): void;
}

interface Active {
  eventId: string;
  cameraId: string;
  sum: number;
  n: number;
  max: number;
  bestSnapshotScore: number;
  lastSnapshotMs: number;
  lastSeenMs: number;
  lastWriteMs: number;
  labels: Set<string>;
  zones: Set<string>;
  path: [number, ...Box][];
}

const MAX_PATH = 600;

export class EventGenerator {
  private readonly active = new Map<string, Active>();
  /** Milliseconds from the decoded frame that started an event to its row in the database (recent 1000). */
  readonly startLatenciesMs: number[] = [];

  constructor(
    private readonly store: EventStore,
    private readonly options: GeneratorOptions,
    private readonly hooks: GeneratorHooks,
    private readonly log: Logger,
  ) {}

  setOptions(config: { detection: { classes: Record<string, unknown> }; events: { endAfterSeconds: number } }): void {
    this.options.classes = new Set(Object.keys(config.detection.classes));
    this.options.endAfterSeconds = config.events.endAfterSeconds;
  }

  handle(f: FrameDetections): void {
    for (const d of f.detections) {
      const key = `${f.cameraId}:${d.trackId}`;
      let a = this.active.get(key);
      if (!a) {
        // A parked car or a person standing still starts nothing; it starts an event again when it moves.
        if (!d.confirmed || d.stationary || !this.options.classes.has(d.label)) continue;
        const required = this.options.requiredZones(f.cameraId);
        if (required.length && !d.zones.some((z) => required.includes(z))) continue;
        const ev = this.store.create({
          cameraId: f.cameraId,
          trackId: d.trackId,
          label: d.label,
          labels: [d.label],
          zones: d.zones,
          startMs: Math.round(f.wallClockMs),
          endMs: null,
          maxScore: d.score,
          meanScore: d.score,
          detections: 1,
          boxPath: [[Math.round(f.wallClockMs), ...d.box]],
          snapshot: null,
          thumbnail: null,
          clip: null,
        });
        this.startLatenciesMs.push(Date.now() - f.wallClockMs);
        if (this.startLatenciesMs.length > 1000) this.startLatenciesMs.shift();
        this.log.info({ camera: f.cameraId, event: ev.id, label: d.label, score: d.score }, 'event started');
        a = {
          eventId: ev.id,
          cameraId: f.cameraId,
          sum: 0,
          n: 0,
          max: 0,
          bestSnapshotScore: 0,
          lastSnapshotMs: 0,
          lastSeenMs: f.wallClockMs,
          lastWriteMs: 0,
          labels: new Set(),
          zones: new Set(),
          path: [],
        };
        this.active.set(key, a);
      }
      a.sum += d.score;
      a.n++;
      a.max = Math.max(a.max, d.score);
      // Only a moving object keeps its event open: once stationary, the event ends after endAfterSeconds (as if
      // the object had gone), so a parked vehicle does not hold an event open for hours.
      if (!d.stationary) a.lastSeenMs = f.wallClockMs;
      a.labels.add(d.label);
      for (const z of d.zones) a.zones.add(z);
      a.path.push([Math.round(f.wallClockMs), ...(d.box.map((v) => Math.round(v)) as Box)]);
      if (a.path.length > MAX_PATH) a.path.splice(0, a.path.length - MAX_PATH);
      // A better view (clearly higher score, at most every 2 s) replaces the snapshot.
      if (d.score > a.bestSnapshotScore * 1.05 && f.wallClockMs - a.lastSnapshotMs > 2000) {
        a.bestSnapshotScore = d.score;
        a.lastSnapshotMs = f.wallClockMs;
        this.takeSnapshot(a, f, d.box);
      }
      if (f.wallClockMs - a.lastWriteMs > 2000) {
        a.lastWriteMs = f.wallClockMs;
        this.write(a, d.label);
      }
    }
    this.expire(f.cameraId, f.wallClockMs);
  }

  private takeSnapshot(a: Active, f: FrameDetections, box: Box): void {
    const ev = this.store.get(a.eventId);
    if (!ev) return;
    this.hooks
      .snapshot(ev, f, box)
      .then((files) => {
        if (files && this.store.get(a.eventId)) this.store.update(a.eventId, files, 'event.update');
      })
      .catch((err) => this.log.warn({ event: a.eventId, err }, 'snapshot failed'));
  }

  private write(a: Active, label: string, end?: number): EventRecord {
    return this.store.update(
      a.eventId,
      {
        label,
        labels: [...a.labels],
        zones: [...a.zones],
        maxScore: a.max,
        meanScore: a.sum / Math.max(1, a.n),
        detections: a.n,
        boxPath: a.path,
        ...(end !== undefined ? { endMs: Math.round(end) } : {}),
      },
      end !== undefined ? 'event.end' : undefined,
    );
  }

  /** Ends events of a camera whose object has been gone for endAfterSeconds (by that camera's clock). */
  expire(cameraId: string, nowMs: number): void {
    for (const [key, a] of this.active) {
      if (a.cameraId !== cameraId || nowMs - a.lastSeenMs < this.options.endAfterSeconds * 1000) continue;
      this.finish(key, a);
    }
  }

  private finish(key: string, a: Active): void {
    this.active.delete(key);
    const ev = this.store.get(a.eventId);
    if (!ev) return;
    const ended = this.write(a, ev.label, a.lastSeenMs);
    this.log.info({ camera: a.cameraId, event: a.eventId, seconds: (a.lastSeenMs - ev.startMs) / 1000 }, 'event ended');
    this.hooks.ended(ended);
  }

  /** Shutdown or media restart: end what is open now, so no event stays open forever. */
  finishAll(cameraId?: string): void {
    for (const [key, a] of this.active) if (!cameraId || a.cameraId === cameraId) this.finish(key, a);
  }
}
