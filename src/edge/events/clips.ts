// Event clips, cut from the recordings (by stream copy in the media process) into a bounded cache (see
// RecordingService.clip): once after an event ends (so the owner's first look is instant), and again on demand
// when the cached copy was evicted.
import { existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

import type { Config } from '../../shared/config.ts';
import { GuardianError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { RecordingService } from '../recording/service.ts';
import type { EventRecord, EventStore } from './store.ts';

export class EventClips {
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly dataDir: string,
    private readonly events: EventStore,
    private readonly recording: Pick<RecordingService, 'clip'>,
    private readonly settings: () => Config['recording'],
    private readonly log: Logger,
    /** Called once an ended event's clip is final (the archive takes it from there). */
    private readonly onFinal: (ev: EventRecord, file: string) => void = () => undefined,
  ) {}

  private abs(rel: string): string {
    return join(this.dataDir, rel);
  }

  /** Path of an event's clip, cut from the recordings if it is not in the cache. */
  async file(eventId: string): Promise<string> {
    const ev = this.events.get(eventId);
    if (!ev) throw new GuardianError('NOT_FOUND', 'no such event');
    if (ev.clip && existsSync(this.abs(ev.clip))) {
      touch(this.abs(ev.clip));
      return this.abs(ev.clip);
    }
    let job = this.inFlight.get(eventId);
    if (!job) {
      job = this.cut(ev).finally(() => this.inFlight.delete(eventId));
      this.inFlight.set(eventId, job);
    }
    return job;
  }

  private async cut(ev: EventRecord): Promise<string> {
    const r = this.settings();
    const end = (ev.endMs ?? Date.now()) + r.postRollSeconds * 1000;
    // The same name each time: the clip is a cached view of the recordings, not a copy of its own.
    const rel = join('clips', ev.cameraId, `${ev.id}${ev.endMs ? '' : '-partial'}.mp4`);
    await this.recording.clip(ev.cameraId, ev.startMs - r.preRollSeconds * 1000, end, this.abs(rel));
    // Only a finished event's clip is final; an event in progress gets a fresh clip on each request.
    if (ev.endMs && end < Date.now() - r.segmentSeconds * 1000 && !ev.clip) {
      this.events.update(ev.id, { clip: rel }, 'event.update');
      this.onFinal(ev, this.abs(rel));
    }
    return this.abs(rel);
  }

  /** The event ended: cut its clip once the post-roll is recorded and its segment finished. */
  afterEnd(ev: EventRecord): void {
    const r = this.settings();
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        void this.file(ev.id).catch((err) => this.log.warn({ event: ev.id, err }, 'clip failed'));
      },
      (r.postRollSeconds + r.segmentSeconds + 1) * 1000,
    );
    timer.unref();
    this.timers.add(timer);
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** A clip served becomes the most recently used in the cache. */
function touch(path: string): void {
  const now = new Date();
  try {
    utimesSync(path, now, now);
  } catch {
    // evicted meanwhile: cut again next time
  }
}
