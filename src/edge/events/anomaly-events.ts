// Unusual-activity (anomaly) events in the main process. The media process scores a camera's picture against the
// model it learned of its normal (src/edge/anomaly/live.ts decides when k of n frames are unusual); each such interval
// becomes an event labelled `unusual`, with the explanation ("moving 3.2× more than usual here", "something unusual
// here") as its labels, the most unusual region as the box drawn on its snapshot, and its score (over the model's
// threshold, shown as 0–100 %: 50 % at the threshold, 100 % at twice it). Written with its outbox entries like every
// other event (event.start, event.end; the snapshot as event.update), so it reaches the owner's server, the events
// page and the archive the same way; recordings of the interval are kept and its clip cut after the end.
import type { Box } from '../../shared/api-types.ts';
import type { Logger } from '../../shared/log.ts';
import type { MediaProcess } from '../media/process.ts';
import type { AnomalyMessage } from '../media/protocol.ts';
import { writeEventSnapshot } from './snapshots.ts';
import type { EventRecord, EventStore } from './store.ts';

export const UNUSUAL_LABEL = 'unusual';

export interface AnomalyHooks {
  /** JPEG files of the frame that confirmed the start (relative to the data dir) and the box drawn on it. */
  snapshot?(
    event: EventRecord,
    m: AnomalyMessage & { frameIndex: number },
    box: Box,
  ): Promise<{ snapshot: string; thumbnail: string; snapshotBox: Box } | null>;
  ended?(event: EventRecord): void;
}

/** The score shown for an event: 0.5 at the threshold, 1 at twice it. */
export const shownScore = (overThreshold: number) => Math.max(0, Math.min(1, overThreshold / 2));

/** The region (fractions of the frame) in the frame's pixels. */
export const regionBox = (m: Pick<AnomalyMessage, 'region' | 'width' | 'height'>): Box => [
  Math.round(m.region[0] * m.width),
  Math.round(m.region[1] * m.height),
  Math.round(m.region[2] * m.width),
  Math.round(m.region[3] * m.height),
];

export class AnomalyEvents {
  /** camera → the open event's id. */
  private readonly open = new Map<string, string>();

  constructor(
    private readonly store: EventStore,
    private readonly hooks: AnomalyHooks,
    private readonly log: Logger,
  ) {}

  handle(m: AnomalyMessage): EventRecord | undefined {
    const openId = this.open.get(m.cameraId);
    if (m.state === 'start') {
      if (openId) return undefined;
      const box = regionBox(m);
      const score = shownScore(m.score);
      const ev = this.store.create({
        cameraId: m.cameraId,
        trackId: 0,
        label: UNUSUAL_LABEL,
        labels: [m.explanation],
        zones: [],
        startMs: Math.round(m.wallClockMs),
        endMs: null,
        maxScore: score,
        meanScore: score,
        detections: 1,
        boxPath: [[Math.round(m.wallClockMs), ...box]],
        snapshot: null,
        thumbnail: null,
        clip: null,
      });
      this.open.set(m.cameraId, ev.id);
      this.log.warn(
        { camera: m.cameraId, event: ev.id, explanation: m.explanation, score: m.score, model: m.version },
        'unusual activity',
      );
      if (m.frameIndex !== null && this.hooks.snapshot)
        this.hooks
          .snapshot(ev, { ...m, frameIndex: m.frameIndex }, box)
          .then((files) => {
            if (files && this.store.get(ev.id)) this.store.update(ev.id, files, 'event.update');
          })
          .catch((err) => this.log.warn({ event: ev.id, err }, 'anomaly snapshot failed'));
      return ev;
    }
    if (!openId) return undefined;
    return this.end(m.cameraId, openId, m.wallClockMs, m.score);
  }

  /** Whether a camera has an `unusual` event open. */
  isOpen(cameraId: string): boolean {
    return this.open.has(cameraId);
  }

  finishAll(cameraId?: string, atMs = Date.now()): void {
    for (const [cam, id] of this.open) if (!cameraId || cam === cameraId) this.end(cam, id, atMs);
  }

  private end(cameraId: string, id: string, atMs: number, peak?: number): EventRecord | undefined {
    this.open.delete(cameraId);
    const ev = this.store.get(id);
    if (!ev) return undefined;
    const maxScore = peak === undefined ? ev.maxScore : Math.max(ev.maxScore, shownScore(peak));
    const ended = this.store.update(id, { endMs: Math.max(ev.startMs, Math.round(atMs)), maxScore }, 'event.end');
    this.log.info(
      { camera: cameraId, event: id, seconds: ((ended.endMs ?? 0) - ended.startMs) / 1000 },
      'unusual activity over',
    );
    this.hooks.ended?.(ended);
    return ended;
  }
}

export interface AnomalyWiring {
  media: MediaProcess;
  events: EventStore;
  recording: { claimForEvent(cameraId: string, startMs: number, endMs: number): unknown };
  clips: { afterEnd(event: EventRecord): void };
  dataDir: string;
  log: Logger;
}

/** Makes `unusual` events from the media process's reports (src/edge/runtime.ts calls this once). */
export function attachAnomalyEvents(w: AnomalyWiring): AnomalyEvents {
  const anomaly = new AnomalyEvents(
    w.events,
    {
      snapshot: (ev, m, box) =>
        writeEventSnapshot(
          w.dataDir,
          w.media,
          ev,
          {
            cameraId: ev.cameraId,
            frameIndex: m.frameIndex,
            pts: 0,
            wallClockMs: ev.startMs,
            width: m.width,
            height: m.height,
            detections: [],
          },
          box,
        ),
      ended(ev) {
        w.recording.claimForEvent(ev.cameraId, ev.startMs, ev.endMs ?? ev.startMs);
        w.clips.afterEnd(ev);
      },
    },
    w.log.child({ component: 'anomaly' }),
  );
  w.media.on('anomaly', (m: AnomalyMessage) => anomaly.handle(m));
  w.media.on('exit', () => anomaly.finishAll());
  return anomaly;
}
