// Archived evidence read back: when an event's clip or snapshot is gone from the box (a failed disk, recordings
// deleted), the edge answers from the copy on the owner's server. The server holds ciphertext only; the edge reads
// the byte ranges it needs over the link (FetchArchive) and decrypts them here with the owner's key, so a player's
// HTTP Range costs only the segments it touches: the header and the first and last segments when an object is
// opened (once, then kept for a minute: a player's next Range needs no new header), then the segments of each range.
import { pipeline } from 'node:stream/promises';

import type { Request, Response } from 'express';

import {
  ArchiveReader,
  type ByteSource,
  HEADER_SIZE,
  type Kek,
  SEGMENT_STORED_SIZE,
} from '../../shared/archive/format.ts';
import { GuardianError } from '../../shared/errors.ts';
import { sendError } from '../../shared/http/api.ts';
import type { Logger } from '../../shared/log.ts';
import type { ArchiveRange } from '../link/archive-fetch.ts';
import type { ArchiveKind, ArchiveState } from './archiver.ts';

/** Reads ciphertext ranges of this edge's archived objects (the link client). */
export interface ArchiveFetcher {
  fetchArchiveRange(eventId: string, kind: ArchiveKind, start: number, end?: number): Promise<ArchiveRange>;
}

/** The response header that says where the bytes came from: 'archive' (the server's copy) or 'local'. */
export const SOURCE_HEADER = 'X-Guardian-Source';

/** The object on the server is not the one a cached reader was opened on (it was replaced): open it again. */
class ObjectChanged extends GuardianError {
  constructor(eventId: string, kind: ArchiveKind) {
    super('UNAVAILABLE', `the archived ${kind} of event ${eventId} was replaced while being read; try again`);
  }
}

/**
 * An archived object on the server as a ByteSource: its first bytes (the header and the first segment, which is all
 * of a small object) are read with its size in one call and kept; any other read is a FetchArchive call of its own,
 * checked to come from the same object (its SHA-256).
 */
export async function linkSource(
  fetcher: ArchiveFetcher,
  eventId: string,
  kind: ArchiveKind,
): Promise<ByteSource & { sha256: string }> {
  const first = await fetcher.fetchArchiveRange(eventId, kind, 0, HEADER_SIZE + SEGMENT_STORED_SIZE - 1);
  const { size, sha256 } = first;
  return {
    size,
    sha256,
    async read(offset, length) {
      if (length <= 0 || offset >= size) return Buffer.alloc(0);
      if (offset + length <= first.data.length) return first.data.subarray(offset, offset + length);
      const r = await fetcher.fetchArchiveRange(eventId, kind, offset, Math.min(size, offset + length) - 1);
      if (r.sha256 !== sha256 || r.size !== size) throw new ObjectChanged(eventId, kind);
      return r.data;
    },
  };
}

/** A single "bytes=a-b", "bytes=a-" or "bytes=-n" of a body of `size` bytes; null: serve it whole (none, or several). */
export function parseByteRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (!m || (!m[1] && !m[2])) return null;
  if (!m[1]) {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : Number.POSITIVE_INFINITY;
  if (end < start) return null; // not a valid range: ignored, as RFC 9110 says
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

export interface SendOptions {
  contentType: string;
  /** Sent as an attachment with this file name. */
  download?: string;
  cacheControl?: string;
}

interface CachedReader {
  reader: Promise<ArchiveReader>;
  expires: number;
}

export class ArchiveRetrieval {
  private readonly readers = new Map<string, CachedReader>();
  private readonly keepMs: number;
  private readonly maxReaders: number;

  constructor(
    private readonly fetcher: ArchiveFetcher,
    private readonly kek: Kek,
    /** The edge's record of what the server holds (EdgeArchiver.state). */
    private readonly state: (eventId: string) => ArchiveState,
    private readonly log: Logger,
    options: { keepMs?: number; maxReaders?: number } = {},
  ) {
    this.keepMs = options.keepMs ?? 60_000;
    this.maxReaders = options.maxReaders ?? 16;
  }

  /** Whether the server holds the event's object of this kind (as the edge was told when it uploaded it). */
  has(eventId: string, kind: ArchiveKind): boolean {
    return this.state(eventId)[kind] === 'stored';
  }

  /**
   * A reader of the archived object (plaintext size, ranges decrypted segment by segment). Opened readers are kept
   * for a while after their last use, so the header, the key and the last segment are fetched once per object, not
   * once per Range request. NOT_FOUND when the server holds no such object.
   */
  open(eventId: string, kind: ArchiveKind): Promise<ArchiveReader> {
    const key = `${eventId}/${kind}`;
    const now = Date.now();
    for (const [k, c] of this.readers) if (c.expires <= now) this.readers.delete(k);
    const cached = this.readers.get(key);
    if (cached) {
      // Most recently used last (the map's order), so the oldest goes first when there are too many.
      this.readers.delete(key);
      this.readers.set(key, { ...cached, expires: now + this.keepMs });
      return cached.reader;
    }
    const reader = linkSource(this.fetcher, eventId, kind).then((source) => ArchiveReader.open(source, this.kek));
    this.readers.set(key, { reader, expires: now + this.keepMs });
    reader.catch(() => this.forget(eventId, kind, reader));
    while (this.readers.size > this.maxReaders) this.readers.delete(this.readers.keys().next().value as string);
    return reader;
  }

  /** Drops a cached reader (after a failure: the next request opens the object again). */
  private forget(eventId: string, kind: ArchiveKind, reader?: Promise<ArchiveReader>): void {
    const key = `${eventId}/${kind}`;
    if (!reader || this.readers.get(key)?.reader === reader) this.readers.delete(key);
  }

  /** The whole plaintext of an archived object (small ones: metadata, a snapshot). */
  async read(eventId: string, kind: ArchiveKind): Promise<Buffer> {
    const reader = await this.open(eventId, kind);
    return reader.plaintextSize ? reader.read(0, reader.plaintextSize - 1) : Buffer.alloc(0);
  }

  /**
   * Answers an HTTP request with an archived object's plaintext: the Range asked for (206, or 416 past the end with
   * the size), else all of it (200); `X-Guardian-Source: archive`. Only the segments of the range are fetched and
   * decrypted, in batches, at the pace the client reads. A failure before the first byte is an error response; after
   * it, the connection is cut before the announced length, so a client never takes a short body for a whole one.
   */
  async send(req: Request, res: Response, eventId: string, kind: ArchiveKind, options: SendOptions): Promise<void> {
    let reader: ArchiveReader;
    try {
      reader = await this.open(eventId, kind);
    } catch (err) {
      this.log.warn({ event: eventId, kind, error: (err as Error).message }, 'could not open the archived copy');
      throw err;
    }
    const size = reader.plaintextSize;
    res.set({
      'Accept-Ranges': 'bytes',
      [SOURCE_HEADER]: 'archive',
      'Cache-Control': options.cacheControl ?? 'private, no-store',
    });
    const range = parseByteRange(req.get('range'), size);
    if (range === 'unsatisfiable') {
      res.set('Content-Range', `bytes */${size}`);
      sendError(
        res,
        new GuardianError('RANGE_NOT_SATISFIABLE', `the ${kind} has ${size} bytes (offsets 0 to ${size - 1})`),
      );
      return;
    }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    res.status(range ? 206 : 200);
    if (options.download) res.attachment(options.download); // (before the type: it sets one from the name)
    res.set({ 'Content-Type': options.contentType, 'Content-Length': String(end - start + 1) });
    if (range) res.set('Content-Range', `bytes ${start}-${end}/${size}`);
    if (req.method === 'HEAD' || end < start) {
      res.end();
      return;
    }
    const body = reader.stream(start, end);
    try {
      await pipeline(body, res);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code === 'ERR_STREAM_PREMATURE_CLOSE') return; // the player went away (a seek, a closed tab)
      // Whatever failed (the link, a segment that did not authenticate, an object replaced), open it afresh next time.
      this.forget(eventId, kind);
      this.log.warn({ event: eventId, kind, error: e.message }, 'archived copy cut short');
      res.destroy();
    }
  }
}
