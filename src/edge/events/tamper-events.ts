// Tamper events in the main process. The media process reports when a camera's picture became covered, dark,
// defocused, re-aimed (moved) or frozen, and when it was back (src/edge/detect/tamper.ts decides); each such
// interval becomes an event labelled `tamper` with the kind as its labels, written with its outbox entry like any
// other (event.start, event.end; the snapshot as event.update), so it reaches the owner's server, the events page and
// the archive the same way. The snapshot is the frame that confirmed the change (it shows the cover, the blur, the
// new view); the clip is cut after the end as for every event. Recordings kept for the event are the minute around
// its start and the minute around its end (who covered the camera, who uncovered it), not hours of a black picture.
import type { Logger } from '../../shared/log.ts';
import type { MediaProcess } from '../media/process.ts';
import type { TamperKind, TamperMessage } from '../media/protocol.ts';
import { writeEventSnapshot } from './snapshots.ts';
import type { EventRecord, EventStore } from './store.ts';

export interface TamperHooks {
  /** JPEG files of the frame that confirmed the change (relative to the data dir), or null. */
  snapshot?(event: EventRecord, frameIndex: number): Promise<{ snapshot: string; thumbnail: string } | null>;
  /** The event ended (recordings to keep, the clip to cut). */
  ended?(event: EventRecord): void;
}

/** Seconds of recording kept around each end of a tamper event. */
const KEEP_AROUND_SECONDS = 60;

export class TamperEvents {
  /** `${camera}\u0000${kind}` → the open event's id. */
  private readonly open = new Map<string, string>();

  constructor(
    private readonly store: EventStore,
    private readonly hooks: TamperHooks,
    private readonly log: Logger,
  ) {}

  handle(m: TamperMessage): EventRecord | undefined {
    const key = `${m.cameraId}\u0000${m.kind}`;
    const openId = this.open.get(key);
    if (m.state === 'start') {
      if (openId) return undefined; // already open (a repeated message)
      const ev = this.store.create({
        cameraId: m.cameraId,
        trackId: 0,
        label: 'tamper',
        labels: [m.kind],
        zones: [],
        startMs: Math.round(m.wallClockMs),
        endMs: null,
        maxScore: 1,
        meanScore: 1,
        detections: 0,
        boxPath: [],
        snapshot: null,
        thumbnail: null,
        clip: null,
      });
      this.open.set(key, ev.id);
      this.log.warn({ camera: m.cameraId, event: ev.id, kind: m.kind }, 'camera tampered with');
      if (m.frameIndex !== null && this.hooks.snapshot)
        this.hooks
          .snapshot(ev, m.frameIndex)
          .then((files) => {
            if (files && this.store.get(ev.id)) this.store.update(ev.id, files, 'event.update');
          })
          .catch((err) => this.log.warn({ event: ev.id, err }, 'tamper snapshot failed'));
      return ev;
    }
    if (!openId) return undefined; // started before this process knew (e.g. before a restart): nothing to end
    return this.end(key, openId, m.wallClockMs);
  }

  /** The kinds open on a camera now. */
  current(cameraId: string): TamperKind[] {
    return [...this.open.keys()]
      .filter((k) => k.startsWith(`${cameraId}\u0000`))
      .map((k) => k.slice(cameraId.length + 1) as TamperKind);
  }

  /** Ends open events (all, or one camera's) at `atMs`: shutdown, or the media process restarted. */
  finishAll(cameraId?: string, atMs = Date.now()): void {
    for (const [key, id] of this.open) if (!cameraId || key.startsWith(`${cameraId}\u0000`)) this.end(key, id, atMs);
  }

  private end(key: string, id: string, atMs: number): EventRecord | undefined {
    this.open.delete(key);
    const ev = this.store.get(id);
    if (!ev) return undefined;
    const ended = this.store.update(id, { endMs: Math.max(ev.startMs, Math.round(atMs)) }, 'event.end');
    this.log.info(
      {
        camera: ended.cameraId,
        event: id,
        kind: ended.labels[0],
        seconds: ((ended.endMs ?? 0) - ended.startMs) / 1000,
      },
      'camera no longer tampered with',
    );
    this.hooks.ended?.(ended);
    return ended;
  }
}

/** What the edge gives tamper events: the media process, the store, and the recording pieces every event uses. */
export interface TamperWiring {
  media: MediaProcess;
  events: EventStore;
  recording: { claimForEvent(cameraId: string, startMs: number, endMs: number): unknown };
  clips: { afterEnd(event: EventRecord): void };
  dataDir: string;
  log: Logger;
}

/** Makes tamper events from the media process's reports (src/edge/runtime.ts calls this once). */
export function attachTamperEvents(w: TamperWiring): TamperEvents {
  const keep = KEEP_AROUND_SECONDS * 1000;
  const tamper = new TamperEvents(
    w.events,
    {
      snapshot: (ev, frameIndex) =>
        writeEventSnapshot(
          w.dataDir,
          w.media,
          ev,
          { cameraId: ev.cameraId, frameIndex, pts: 0, wallClockMs: ev.startMs, width: 0, height: 0, detections: [] },
          [0, 0, 0, 0],
        ).then(({ snapshot, thumbnail }) => ({ snapshot, thumbnail })), // the whole picture: no box drawn
      ended(ev) {
        const end = ev.endMs ?? ev.startMs;
        w.recording.claimForEvent(ev.cameraId, ev.startMs, Math.min(end, ev.startMs + keep));
        if (end - ev.startMs > keep) w.recording.claimForEvent(ev.cameraId, end - keep, end);
        w.clips.afterEnd(ev);
      },
    },
    w.log.child({ component: 'tamper' }),
  );
  w.media.on('tamper', (m: TamperMessage) => tamper.handle(m));
  // A restarted media process learns every camera's picture anew: end what is open rather than leave it open.
  w.media.on('exit', () => tamper.finishAll());
  return tamper;
}
