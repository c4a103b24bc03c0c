// Event retention: events older than events.retentionDays go, with their snapshot, thumbnail and cached clip
// (the recordings follow their own retention in the media process; protected events are never expired).
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { ClockWatch } from '../../shared/clock.ts';
import type { EventStore } from './store.ts';

export class EventRetention {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly events: EventStore,
    private readonly retentionDays: () => number,
    private readonly clock = new ClockWatch(),
  ) {}

  /** Deletes what expired; returns how many events went (none just after a clock jump: see ClockWatch). */
  sweep(now = Date.now()): number {
    if (!this.clock.steady()) return 0;
    const expired = this.events.expired(now - this.retentionDays() * 86_400_000);
    for (const ev of expired) {
      for (const f of [ev.snapshot, ev.thumbnail, ev.clip]) if (f) rmSync(join(this.dataDir, f), { force: true });
      this.events.remove(ev.id);
    }
    return expired.length;
  }

  start(intervalMs = 60_000): void {
    this.timer = setInterval(() => {
      try {
        this.sweep();
      } catch {
        // the disk under the database failed; the next sweep tries again
      }
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
