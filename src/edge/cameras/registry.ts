// The camera registry: cameras in SQLite, credentials in their own table, status kept by the supervisors.

import type { Camera } from '../../shared/api-types.ts';
import { configDefaults } from '../../shared/config.ts';
import type { Db } from '../../shared/db.ts';
import { ConflictError, type FieldIssue, NotFoundError, ValidationError } from '../../shared/errors.ts';
import type { CameraConnection, CameraEntry, CameraHealth, CameraStatus } from '../media/protocol.ts';
import { type CameraKind, displayUrl, parseCameraUrl, withCredentials } from './url.ts';

export type { Camera, CameraConnection, CameraEntry, CameraHealth, CameraStatus };

export interface CameraInput {
  id?: string;
  name: string;
  kind: CameraKind;
  /** Main stream, recorded. Credentials may be given inline (rtsp://user:pass@...) or as username/password. */
  recordUrl: string;
  /** Optional lower-resolution sub stream, analysed instead of the main stream. */
  detectUrl?: string | null;
  snapshotUrl?: string | null;
  username?: string;
  password?: string;
  enabled?: boolean;
  detectFps?: number;
  options?: Record<string, unknown>;
}

/** What the media core needs to connect: URLs with credentials. Never log or return this. */

interface Row {
  id: string;
  name: string;
  kind: CameraKind;
  record_url: string;
  detect_url: string | null;
  snapshot_url: string | null;
  enabled: number;
  detect_fps: number;
  options: string;
  created_at: number;
  updated_at: number;
  username: string | null;
  password: string | null;
  status: CameraStatus | null;
  last_seen: number | null;
  last_error: string | null;
  last_error_code: string | null;
  reconnects: number | null;
  input_fps: number | null;
  bitrate_kbps: number | null;
}

const KINDS: readonly CameraKind[] = ['rtsp', 'onvif', 'usb', 'file'];

export function slugify(name: string): string {
  return (
    name
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 64) || 'camera'
  );
}

interface Validated {
  id: string;
  name: string;
  kind: CameraKind;
  recordUrl: string;
  detectUrl: string | null;
  snapshotUrl: string | null;
  username: string | null;
  password: string | null;
  enabled: boolean;
  detectFps: number;
  options: Record<string, unknown>;
}

/** Checks a whole camera description and reports every problem at once. */
export function validateCamera(
  input: unknown,
  defaults: { detectFps: number } = { detectFps: configDefaults().detection.fps },
): Validated {
  const issues: FieldIssue[] = [];
  const o = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const name = typeof o.name === 'string' ? o.name.trim() : '';
  if (!name || name.length > 100) issues.push({ field: 'name', message: 'expected a name of 1 to 100 characters' });
  const kind = o.kind as CameraKind;
  if (!KINDS.includes(kind)) issues.push({ field: 'kind', message: `expected one of ${KINDS.join(', ')}` });
  let id = typeof o.id === 'string' ? o.id : slugify(name);
  if (o.id !== undefined && (typeof o.id !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(o.id))) {
    issues.push({ field: 'id', message: 'expected lowercase letters, digits and dashes (at most 64)' });
    id = '';
  }
  const k = KINDS.includes(kind) ? kind : 'rtsp';
  const record = parseCameraUrl('recordUrl', o.recordUrl, k, 'stream', issues);
  const detect =
    o.detectUrl === undefined || o.detectUrl === null || o.detectUrl === ''
      ? undefined
      : parseCameraUrl('detectUrl', o.detectUrl, k, 'stream', issues);
  const snapshot =
    o.snapshotUrl === undefined || o.snapshotUrl === null || o.snapshotUrl === ''
      ? undefined
      : parseCameraUrl('snapshotUrl', o.snapshotUrl, k, 'snapshot', issues);
  for (const f of ['username', 'password'] as const) {
    const v = o[f];
    if (v !== undefined && (typeof v !== 'string' || v.length > 256 || /[\u0000-\u001f]/.test(v)))
      issues.push({ field: f, message: 'expected a string of at most 256 printable characters' });
  }
  const detectFps = o.detectFps === undefined ? defaults.detectFps : o.detectFps;
  if (typeof detectFps !== 'number' || !(detectFps > 0 && detectFps <= 30))
    issues.push({ field: 'detectFps', message: 'expected a number greater than 0 and at most 30' });
  if (o.enabled !== undefined && typeof o.enabled !== 'boolean')
    issues.push({ field: 'enabled', message: 'expected true or false' });
  if (o.options !== undefined && (typeof o.options !== 'object' || o.options === null || Array.isArray(o.options)))
    issues.push({ field: 'options', message: 'expected an object' });
  if (issues.length) throw new ValidationError(issues);
  const username = (o.username as string | undefined) ?? record?.username ?? detect?.username ?? null;
  const password = (o.password as string | undefined) ?? record?.password ?? detect?.password ?? null;
  return {
    id,
    name,
    kind,
    recordUrl: record?.url ?? '',
    detectUrl: detect?.url ?? null,
    snapshotUrl: snapshot?.url ?? null,
    username,
    password,
    enabled: (o.enabled as boolean | undefined) ?? true,
    detectFps: detectFps as number,
    options: (o.options as Record<string, unknown> | undefined) ?? {},
  };
}

/** The cameras table's columns for a validated description (one mapping for insert and update). */
function columns(v: Validated, now: number) {
  return {
    id: v.id,
    name: v.name,
    kind: v.kind,
    recordUrl: v.recordUrl,
    detectUrl: v.detectUrl,
    snapshotUrl: v.snapshotUrl,
    enabled: v.enabled ? 1 : 0,
    detectFps: v.detectFps,
    options: JSON.stringify(v.options),
    now,
  };
}

export class CameraRegistry {
  /** `defaults.detectFps` (the configuration's detection.fps) is given to cameras added without one. */
  constructor(
    private readonly db: Db,
    readonly defaults: { detectFps: number } = { detectFps: configDefaults().detection.fps },
  ) {}

  private row(id: string): Row | undefined {
    return this.db
      .prepare(
        `SELECT c.*, cr.username, cr.password, s.status, s.last_seen, s.last_error, s.last_error_code, s.reconnects,
                s.input_fps, s.bitrate_kbps
           FROM cameras c
           LEFT JOIN camera_credentials cr ON cr.camera_id = c.id
           LEFT JOIN camera_status s ON s.camera_id = c.id
          WHERE c.id = ?`,
      )
      .get(id) as Row | undefined;
  }

  private toCamera(r: Row): Camera {
    const has = r.username !== null;
    return {
      id: r.id,
      name: r.name,
      kind: r.kind,
      recordUrl: displayUrl(r.record_url, has && r.kind !== 'file' && r.kind !== 'usb'),
      detectUrl: r.detect_url ? displayUrl(r.detect_url, has) : null,
      snapshotUrl: r.snapshot_url ? displayUrl(r.snapshot_url, has) : null,
      hasCredentials: has,
      enabled: r.enabled === 1,
      detectFps: r.detect_fps,
      options: JSON.parse(r.options) as Record<string, unknown>,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      health: {
        status: r.status ?? (r.enabled ? 'connecting' : 'disabled'),
        lastSeen: r.last_seen,
        lastError: r.last_error,
        lastErrorCode: r.last_error_code,
        reconnects: r.reconnects ?? 0,
        inputFps: r.input_fps,
        bitrateKbps: r.bitrate_kbps,
      },
    };
  }

  list(): Camera[] {
    const ids = this.db.prepare('SELECT id FROM cameras ORDER BY name, id').pluck().all() as string[];
    return ids.map((id) => this.get(id));
  }

  get(id: string): Camera {
    const r = this.row(id);
    if (!r) throw new NotFoundError(`no camera with id "${id}"`);
    return this.toCamera(r);
  }

  add(input: CameraInput | unknown): Camera {
    const v = validateCamera(input, this.defaults);
    const now = Date.now();
    this.db.transaction(() => {
      if (this.row(v.id)) throw new ConflictError(`a camera with id "${v.id}" already exists`);
      this.db
        .prepare(
          `INSERT INTO cameras (id, name, kind, record_url, detect_url, snapshot_url, enabled, detect_fps, options,
                                created_at, updated_at)
           VALUES (@id, @name, @kind, @recordUrl, @detectUrl, @snapshotUrl, @enabled, @detectFps, @options, @now, @now)`,
        )
        .run(columns(v, now));
      this.saveCredentials(v.id, v.username, v.password);
    })();
    return this.get(v.id);
  }

  /** Replaces a camera's description; credentials are kept unless new ones are given. */
  update(id: string, input: Partial<CameraInput>): Camera {
    const current = this.row(id);
    if (!current) throw new NotFoundError(`no camera with id "${id}"`);
    const merged = {
      name: current.name,
      kind: current.kind,
      recordUrl: current.record_url,
      detectUrl: current.detect_url,
      snapshotUrl: current.snapshot_url,
      enabled: current.enabled === 1,
      detectFps: current.detect_fps,
      options: JSON.parse(current.options),
      ...input,
      id,
    };
    const v = validateCamera(merged, this.defaults);
    this.db.transaction(() => {
      this.db
        .prepare(
          `UPDATE cameras SET name = @name, kind = @kind, record_url = @recordUrl, detect_url = @detectUrl,
                  snapshot_url = @snapshotUrl, enabled = @enabled, detect_fps = @detectFps, options = @options,
                  updated_at = @now
            WHERE id = @id`,
        )
        .run(columns({ ...v, id }, Date.now()));
      if (v.username !== null) this.saveCredentials(id, v.username, v.password);
    })();
    return this.get(id);
  }

  remove(id: string): void {
    const r = this.db.prepare('DELETE FROM cameras WHERE id = ?').run(id);
    if (r.changes === 0) throw new NotFoundError(`no camera with id "${id}"`);
  }

  connection(id: string): CameraConnection {
    const r = this.row(id);
    if (!r) throw new NotFoundError(`no camera with id "${id}"`);
    const user = r.username ?? undefined;
    const pass = r.password ?? undefined;
    const recordUrl = withCredentials(r.record_url, user, pass);
    return {
      id: r.id,
      kind: r.kind,
      recordUrl,
      detectUrl: r.detect_url ? withCredentials(r.detect_url, user, pass) : recordUrl,
      detectFps: r.detect_fps,
      options: JSON.parse(r.options) as Record<string, unknown>,
    };
  }

  /** What the media process needs to run a camera, or undefined if there is no such camera. */
  entry(id: string): CameraEntry | undefined {
    const r = this.row(id);
    return r ? { ...this.connection(id), enabled: Boolean(r.enabled) } : undefined;
  }

  ids(): string[] {
    return this.db.prepare('SELECT id FROM cameras ORDER BY name, id').pluck().all() as string[];
  }

  setHealth(id: string, h: CameraHealth): void {
    this.db
      .prepare(
        `INSERT INTO camera_status (camera_id, status, last_seen, last_error, last_error_code, reconnects, input_fps,
                                    bitrate_kbps, updated_at)
         VALUES (@id, @status, @lastSeen, @lastError, @lastErrorCode, @reconnects, @inputFps, @bitrateKbps, @now)
         ON CONFLICT(camera_id) DO UPDATE SET status = excluded.status, last_seen = excluded.last_seen,
           last_error = excluded.last_error, last_error_code = excluded.last_error_code,
           reconnects = excluded.reconnects, input_fps = excluded.input_fps, bitrate_kbps = excluded.bitrate_kbps,
           updated_at = excluded.updated_at`,
      )
      .run({ id, ...h, now: Date.now() });
  }

  private saveCredentials(id: string, username: string | null, password: string | null): void {
    if (username === null) {
      this.db.prepare('DELETE FROM camera_credentials WHERE camera_id = ?').run(id);
      return;
    }
    this.db
      .prepare(
        `INSERT INTO camera_credentials (camera_id, username, password) VALUES (?, ?, ?)
         ON CONFLICT(camera_id) DO UPDATE SET username = excluded.username, password = excluded.password`,
      )
      .run(id, username, password ?? '');
  }
}
