// The VM's archive: receives the edges' encrypted objects (clip, snapshot, metadata of an event), checks and stores
// them, indexes them, and applies quota and retention. The bytes are opaque ciphertext: the VM holds no key.
//
// An upload is refused before any byte is stored when its header is malformed (INVALID_ARGUMENT), the event is not in
// the VM's cache yet (FAILED_PRECONDITION: the edge delivers the event first, then retries), the event belongs to
// another edge (PERMISSION_DENIED) or the camera's quota is full of protected objects and this one is not protected
// (RESOURCE_EXHAUSTED). The same key with the same SHA-256 already stored is UNCHANGED and nothing is read or written.
// A different SHA-256 for a key this edge already stored replaces it (a clip cut again, or encrypted again after an
// outbox reset): the new object becomes visible whole, atomically, only once checked, and the index follows. Only the
// edge owning the event can ever write under it, so there is no cross-edge conflict to arbitrate; a row held by
// another edge (which the event check makes impossible) is refused as PERMISSION_DENIED.
import type { Readable } from 'node:stream';

import type { Db } from '../../shared/db.ts';
import { GuardianError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { VmCache } from '../cache/cache.ts';
import {
  ArchiveIndex,
  type ArchiveKind,
  type ArchiveObject,
  bucketFor,
  cameraIdPattern,
  eventIdPattern,
  isArchiveKind,
  objectKey,
} from './index.ts';
import { ArchiveRetention, KeyLocks } from './retention.ts';
import type { ObjectStore } from './store.ts';

export interface ArchiveUploadHeader {
  eventId: string;
  cameraId: string;
  kind: string;
  size: number;
  sha256: string;
  protected: boolean;
}

/** Why an upload was refused, named like the gRPC status it is answered with. */
export type RefusalCode =
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'DATA_LOSS'
  | 'ABORTED'
  | 'UNAVAILABLE'
  | 'NOT_FOUND'
  | 'OUT_OF_RANGE';

export class ArchiveRefusal extends Error {
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message);
    this.name = 'ArchiveRefusal';
  }
}

export interface ArchiveReceipt {
  status: 'STORED' | 'UNCHANGED';
  bucket: string;
  key: string;
  size: number;
  sha256: string;
}

export interface ArchiveOptions {
  quotaBytesPerCamera: number;
  retentionDays: number;
  log: Logger;
}

const sha256Pattern = /^[0-9a-f]{64}$/;

export class ArchiveService {
  readonly index: ArchiveIndex;
  readonly retention: ArchiveRetention;
  private readonly locks = new KeyLocks();
  private readonly log: Logger;

  constructor(
    db: Db,
    readonly store: ObjectStore,
    private readonly cache: VmCache,
    private readonly options: ArchiveOptions,
  ) {
    this.log = options.log;
    this.index = new ArchiveIndex(db);
    this.retention = new ArchiveRetention(this.index, store, this.locks, {
      quotaBytesPerCamera: options.quotaBytesPerCamera,
      retentionDays: options.retentionDays,
      log: options.log,
    });
  }

  /** Before the link accepts uploads: what a crash left behind goes, interrupted deletions are finished. */
  async start(): Promise<void> {
    const temp = await this.store.cleanTemp();
    if (temp) this.log.info({ removed: temp, store: this.store.kind }, 'removed interrupted archive uploads');
    await this.retention.finishDeletions();
  }

  /** Checks a header against the protocol and the VM's cache; throws an ArchiveRefusal. */
  private admit(edgeId: string, h: ArchiveUploadHeader) {
    const bad: string[] = [];
    if (!eventIdPattern.test(h.eventId)) bad.push('event_id must be a ULID');
    if (!cameraIdPattern.test(h.cameraId))
      bad.push('camera_id must be a camera id (lowercase letters, digits, dashes)');
    if (!isArchiveKind(h.kind)) bad.push('kind must be clip, snapshot or metadata');
    if (!Number.isSafeInteger(h.size) || h.size < 1) bad.push('size must be a positive number of bytes');
    if (!sha256Pattern.test(h.sha256)) bad.push('sha256 must be 64 lowercase hex digits');
    if (bad.length) throw new ArchiveRefusal('INVALID_ARGUMENT', bad.join('; '));
    const kind = h.kind as ArchiveKind;
    const event = this.cache.event(h.eventId);
    if (!event)
      throw new ArchiveRefusal(
        'FAILED_PRECONDITION',
        `event ${h.eventId} is not known to the VM yet: deliver it first, then upload again`,
      );
    if (event.edgeId !== edgeId)
      throw new ArchiveRefusal('PERMISSION_DENIED', `event ${h.eventId} belongs to another edge`);
    if (event.cameraId !== h.cameraId)
      throw new ArchiveRefusal(
        'INVALID_ARGUMENT',
        `event ${h.eventId} is of camera ${event.cameraId}, not ${h.cameraId}`,
      );
    const existing = this.index.get(h.eventId, kind);
    if (existing && existing.edgeId !== edgeId)
      throw new ArchiveRefusal('PERMISSION_DENIED', `the archive object of event ${h.eventId} is another edge's`);
    return { kind, event, existing, bucket: bucketFor(h.cameraId), key: objectKey(h.eventId, kind) };
  }

  /** Room for an object: an unprotected one must fit beside the camera's protected bytes (the rest can be evicted). */
  private checkQuota(edgeId: string, h: ArchiveUploadHeader, replacing: { size: number; protected: boolean } | null) {
    if (h.protected) return;
    const usage = this.index.usage(edgeId, h.cameraId);
    const protectedBytes = usage.protectedBytes - (replacing?.protected ? replacing.size : 0);
    const quota = this.options.quotaBytesPerCamera;
    if (protectedBytes + h.size > quota)
      throw new ArchiveRefusal(
        'RESOURCE_EXHAUSTED',
        protectedBytes > 0
          ? `camera ${h.cameraId}'s archive quota (${quota} bytes) is held by protected objects (${protectedBytes} bytes): unprotected uploads are refused`
          : `the object (${h.size} bytes) is larger than camera ${h.cameraId}'s archive quota (${quota} bytes)`,
      );
  }

  /**
   * Stores one object from an edge. body yields the ciphertext; it is read only if the object is new or changed,
   * at the pace the store writes. Resolves once the object is durable and indexed.
   */
  async upload(edgeId: string, h: ArchiveUploadHeader, body: Readable): Promise<ArchiveReceipt> {
    const { kind, event, existing, bucket, key } = this.admit(edgeId, h);
    const receipt = (status: ArchiveReceipt['status']): ArchiveReceipt => ({
      status,
      bucket,
      key,
      size: h.size,
      sha256: h.sha256,
    });
    if (existing?.state === 'stored' && existing.sha256 === h.sha256 && existing.size === h.size) {
      // A replay: the index says it is there; make sure the store agrees before saying so.
      const held = await this.store.head(bucket, key);
      if (held?.size === h.size) {
        if (existing.protected !== h.protected) this.index.setProtected(h.eventId, kind, h.protected);
        body.destroy();
        return receipt('UNCHANGED');
      }
      this.log.warn({ edge: edgeId, bucket, key }, 'indexed archive object missing from the store; storing it again');
    }
    this.checkQuota(edgeId, h, existing?.state === 'stored' ? existing : null);
    let superseded = false;
    await this.locks.upload(
      `${bucket}/${key}`,
      () => {
        superseded = true;
        body.destroy(new ArchiveRefusal('ABORTED', 'superseded by a newer upload of the same object'));
      },
      async () => {
        if (superseded) throw new ArchiveRefusal('ABORTED', 'superseded by a newer upload of the same object');
        try {
          await this.store.put(bucket, key, body, { size: h.size, sha256: h.sha256 });
        } catch (err) {
          if (err instanceof ArchiveRefusal) throw err;
          if (err instanceof GuardianError && err.code === 'CORRUPT_DATA')
            throw new ArchiveRefusal('DATA_LOSS', err.message);
          if (err instanceof GuardianError && err.code === 'INVALID_ARGUMENT')
            throw new ArchiveRefusal('INVALID_ARGUMENT', err.message);
          throw err;
        }
        this.index.put({
          edgeId,
          cameraId: h.cameraId,
          eventId: h.eventId,
          kind,
          bucket,
          key,
          size: h.size,
          sha256: h.sha256,
          protected: h.protected,
          eventTime: event.timestamp,
        });
      },
    );
    this.log.info(
      { edge: edgeId, camera: h.cameraId, event: h.eventId, kind, bytes: h.size, replaced: Boolean(existing) },
      existing ? 'archive object replaced' : 'archive object stored',
    );
    // Past the quota the oldest unprotected objects go; a failure here does not undo the upload.
    await this.retention.enforceQuota(edgeId, h.cameraId).catch((err: Error) => {
      this.log.error({ error: err.message, camera: h.cameraId }, 'archive quota enforcement failed');
    });
    return receipt('STORED');
  }

  /**
   * One of an edge's own stored objects, for reading it back over the link (ciphertext, as uploaded). Throws an
   * ArchiveRefusal: INVALID_ARGUMENT (not an event id or kind), NOT_FOUND (nothing stored), PERMISSION_DENIED (the
   * object is another edge's: an edge reads back only what it uploaded).
   */
  ownObject(edgeId: string, eventId: string, kind: string): ArchiveObject {
    if (!eventIdPattern.test(eventId)) throw new ArchiveRefusal('INVALID_ARGUMENT', 'event_id must be a ULID');
    if (!isArchiveKind(kind)) throw new ArchiveRefusal('INVALID_ARGUMENT', 'kind must be clip, snapshot or metadata');
    const o = this.object(eventId, kind);
    if (!o) throw new ArchiveRefusal('NOT_FOUND', `the archive holds no ${kind} of event ${eventId}`);
    if (o.edgeId !== edgeId)
      throw new ArchiveRefusal('PERMISSION_DENIED', `the archive object of event ${eventId} is another edge's`);
    return o;
  }

  /** A stored object of an event, for the owner's API (ciphertext, as uploaded). */
  object(eventId: string, kind: ArchiveKind) {
    const o = this.index.get(eventId, kind);
    return o?.state === 'stored' ? o : undefined;
  }
}
