// Encrypted evidence off the box: once an event's clip is final, the edge encrypts the clip, the snapshot and a
// metadata JSON with the owner's archive secret (the secret never leaves this edge), keeps the ciphertext under
// <dataDir>/archive/<event>/ and queues one outbox item per object; the link uploads each and the item leaves the
// outbox only when the server says the object is durably stored. The queue is on disk: hours without the link lose
// nothing, and an upload cut short is simply made again (the server stores nothing twice).
import { chmodSync, createReadStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ArchiveState } from '../../shared/api-types.ts';
import { encryptFile, type Kek } from '../../shared/archive/format.ts';
import type { Config } from '../../shared/config.ts';
import type { Db } from '../../shared/db.ts';
import type { Logger } from '../../shared/log.ts';
import type { Outbox, OutboxItem } from '../events/outbox.ts';
import type { EventRecord, EventStore } from '../events/store.ts';
import type { ArchiveObjectHeader } from '../link/archive-upload.ts';

export type ArchiveKind = ArchiveObjectHeader['kind'];
export const ARCHIVE_KINDS: readonly ArchiveKind[] = ['clip', 'snapshot', 'metadata'];
const FILE_NAMES: Record<ArchiveKind, string> = {
  clip: 'clip.mp4.gdna',
  snapshot: 'snapshot.jpg.gdna',
  metadata: 'metadata.json.gdna',
};

interface UploadPayload {
  eventId: string;
  cameraId: string;
  kind: ArchiveKind;
  file: string;
  size: number;
  sha256: string;
  protected: boolean;
}

export type { ArchiveState };

/** What the server learns in clear is what its event cache already has; the rest travels only encrypted. */
export function archiveMetadata(ev: EventRecord): Record<string, unknown> {
  const { snapshot: _s, thumbnail: _t, clip: _c, ...rest } = ev;
  return { format: 'guardian-event/1', ...rest };
}

export class EdgeArchiver {
  private readonly busy = new Set<string>();

  constructor(
    private readonly dataDir: string,
    private readonly db: Db,
    private readonly events: EventStore,
    private readonly outbox: Outbox,
    private readonly settings: () => Config['archive'],
    private readonly kek: Kek,
    private readonly log: Logger,
  ) {}

  /** Whether this event is to be archived under the current settings. */
  wanted(ev: EventRecord): boolean {
    const s = this.settings();
    if (!s.enabled) return false;
    if (s.include === 'protected') return ev.protected;
    if (s.include === 'labels') return ev.labels.some((l) => s.labels.includes(l));
    return true;
  }

  /** The event's clip is final (or it was protected): encrypt what it has and queue the uploads, once. */
  async queue(eventId: string, clipFile: string | null): Promise<void> {
    if (this.busy.has(eventId)) return;
    const ev = this.events.get(eventId);
    if (!ev || !this.wanted(ev)) return;
    this.busy.add(eventId);
    try {
      const known = this.state(eventId);
      const sources: [ArchiveKind, string | null][] = [
        ['clip', clipFile],
        ['snapshot', ev.snapshot ? join(this.dataDir, ev.snapshot) : null],
        ['metadata', null],
      ];
      for (const [kind, source] of sources) {
        if (known[kind]) continue;
        const rel = join('archive', ev.cameraId, ev.id, FILE_NAMES[kind]);
        const out = join(this.dataDir, rel);
        mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
        let input = source;
        if (kind === 'metadata') {
          input = `${out}.json`;
          writeFileSync(input, JSON.stringify(archiveMetadata(ev)), { mode: 0o600 });
        }
        if (!input || !existsSync(input)) continue;
        try {
          const r = await encryptFile(input, out, this.kek);
          chmodSync(out, 0o600); // private even where no umask of 077 applies (the directory is 0700 too)
          const payload: UploadPayload = {
            eventId: ev.id,
            cameraId: ev.cameraId,
            kind,
            file: rel,
            size: r.ciphertextBytes,
            sha256: r.sha256,
            protected: ev.protected,
          };
          this.db.transaction(() => {
            this.db
              .prepare(
                `INSERT INTO archive_objects (event_id, kind, state, file, size, sha256, updated_ms)
                 VALUES (?, ?, 'queued', ?, ?, ?, ?)
                 ON CONFLICT(event_id, kind) DO UPDATE SET state = 'queued', file = excluded.file,
                   size = excluded.size, sha256 = excluded.sha256, updated_ms = excluded.updated_ms`,
              )
              .run(ev.id, kind, rel, r.ciphertextBytes, r.sha256, Date.now());
            // After the event changes themselves (priority 1-5): evidence follows its event.
            this.outbox.enqueue('archive.upload', `${ev.id}/${kind}`, payload, 8);
          })();
        } finally {
          if (kind === 'metadata') rmSync(input, { force: true });
        }
      }
    } catch (err) {
      this.log.warn({ event: eventId, err }, 'could not prepare the archive of an event; it is retried with its clip');
    } finally {
      this.busy.delete(eventId);
    }
  }

  /** Delivers archive items through `upload`; an item is acknowledged once the server stored it (or had it). */
  delivery(
    upload: (
      header: ArchiveObjectHeader,
      body: NodeJS.ReadableStream & import('node:stream').Readable,
    ) => Promise<string>,
  ) {
    return async (items: OutboxItem[]): Promise<Set<number>> => {
      const done = new Set<number>();
      for (const item of items) {
        const p = item.payload as UploadPayload;
        const file = join(this.dataDir, p.file);
        if (!existsSync(file)) {
          // Nothing left to send (deleted by retention or by hand): drop the item, and say so.
          this.log.warn({ event: p.eventId, kind: p.kind }, 'an archive object to upload is gone; dropping it');
          done.add(item.id);
          continue;
        }
        const header: ArchiveObjectHeader = {
          eventId: p.eventId,
          cameraId: p.cameraId,
          kind: p.kind,
          size: p.size,
          sha256: p.sha256,
          protected: p.protected,
        };
        await upload(header, createReadStream(file)); // a failure fails the batch: the link reconnects, items back off
        this.db
          .prepare(
            "UPDATE archive_objects SET state = 'stored', file = NULL, updated_ms = ? WHERE event_id = ? AND kind = ?",
          )
          .run(Date.now(), p.eventId, p.kind);
        rmSync(file, { force: true });
        done.add(item.id);
      }
      return done;
    };
  }

  /** Archive state of an event, by kind. */
  state(eventId: string): ArchiveState {
    const rows = this.db.prepare('SELECT kind, state FROM archive_objects WHERE event_id = ?').all(eventId) as {
      kind: ArchiveKind;
      state: 'queued' | 'stored';
    }[];
    return Object.fromEntries(rows.map((r) => [r.kind, r.state]));
  }

  /** Archive states of many events at once (for event lists). */
  states(eventIds: string[]): Map<string, ArchiveState> {
    const out = new Map<string, ArchiveState>();
    if (!eventIds.length) return out;
    const rows = this.db
      .prepare(
        `SELECT event_id AS eventId, kind, state FROM archive_objects WHERE event_id IN (${eventIds.map(() => '?').join(',')})`,
      )
      .all(...eventIds) as { eventId: string; kind: ArchiveKind; state: 'queued' | 'stored' }[];
    for (const r of rows) out.set(r.eventId, { ...out.get(r.eventId), [r.kind]: r.state });
    return out;
  }
}
