// The camera registry: cameras in SQLite, credentials in their own table (sealed with AES-256-GCM, secrets.ts), status
// kept by the supervisors. Credentials belong to the addresses they were given for: a change of scheme, host or port
// drops them unless they are given again.

import type { Camera } from '../../shared/api-types.ts';
import { configDefaults } from '../../shared/config.ts';
import type { Db } from '../../shared/db.ts';
import { ConflictError, type FieldIssue, NotFoundError, ValidationError } from '../../shared/errors.ts';
import { addSecret } from '../../shared/redact.ts';
import type { CameraConnection, CameraEntry, CameraHealth, CameraStatus } from '../media/protocol.ts';
import type { Resolver } from './hosts.ts';
import { credentialKey, seal, unseal } from './secrets.ts';
import {
  type CameraKind,
  type CameraPolicy,
  checkCameraHosts,
  defaultCameraPolicy,
  displayUrl,
  parseCameraUrl,
  urlOrigin,
  withCredentials,
} from './url.ts';

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
  /** null or '' removes the stored credentials. */
  username?: string | null;
  password?: string | null;
  enabled?: boolean;
  detectFps?: number;
  options?: Record<string, unknown>;
}

/** A camera saved, and what the owner should know about it (credentials dropped, sent over plain RTSP). */
export interface SavedCamera {
  camera: Camera;
  warnings: string[];
}

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
  sealed: number | null;
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
  /** Credentials given in this description (fields or inline in a URL); null: none given, or removed. */
  username: string | null;
  password: string | null;
  /** Whether the description gives (or removes) credentials, rather than leaving the stored ones alone. */
  credentialsGiven: boolean;
  enabled: boolean;
  detectFps: number;
  options: Record<string, unknown>;
}

/** Checks a whole camera description and reports every problem at once. */
export function validateCamera(
  input: unknown,
  defaults: { detectFps: number } = { detectFps: configDefaults().detection.fps },
  policy: CameraPolicy = defaultCameraPolicy,
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
  const record = parseCameraUrl('recordUrl', o.recordUrl, k, 'stream', issues, policy);
  const detect =
    o.detectUrl === undefined || o.detectUrl === null || o.detectUrl === ''
      ? undefined
      : parseCameraUrl('detectUrl', o.detectUrl, k, 'stream', issues, policy);
  const snapshot =
    o.snapshotUrl === undefined || o.snapshotUrl === null || o.snapshotUrl === ''
      ? undefined
      : parseCameraUrl('snapshotUrl', o.snapshotUrl, k, 'snapshot', issues, policy);
  for (const f of ['username', 'password'] as const) {
    const v = o[f];
    if (v !== undefined && v !== null && (typeof v !== 'string' || v.length > 256 || /[\u0000-\u001f]/.test(v)))
      issues.push({ field: f, message: 'expected a string of at most 256 printable characters' });
  }
  const detectFps = o.detectFps === undefined ? defaults.detectFps : o.detectFps;
  if (typeof detectFps !== 'number' || !(detectFps > 0 && detectFps <= 30))
    issues.push({ field: 'detectFps', message: 'expected a number greater than 0 and at most 30' });
  if (o.enabled !== undefined && typeof o.enabled !== 'boolean')
    issues.push({ field: 'enabled', message: 'expected true or false' });
  const options = { ...((o.options ?? {}) as Record<string, unknown>) };
  if (o.options !== undefined && (typeof o.options !== 'object' || o.options === null || Array.isArray(o.options)))
    issues.push({ field: 'options', message: 'expected an object' });
  else if (options.onvif !== undefined) {
    // The ONVIF device service the camera was found at: the edge itself talks HTTP to it, like a snapshot URL.
    const onvif = parseCameraUrl('options.onvif', options.onvif, k, 'snapshot', issues, policy);
    if (onvif?.username)
      issues.push({ field: 'options.onvif', message: 'give the credentials as username and password, not in the URL' });
    else if (onvif) options.onvif = onvif.url;
  }
  if (issues.length) throw new ValidationError(issues);
  const inline = [record, detect, snapshot].find((p) => p?.username || p?.password);
  const field = (f: 'username' | 'password') =>
    o[f] === undefined ? (inline?.[f] ?? null) : o[f] === '' ? null : (o[f] as string | null);
  const credentialsGiven = o.username !== undefined || o.password !== undefined || inline !== undefined;
  return {
    id,
    name,
    kind,
    recordUrl: record?.url ?? '',
    detectUrl: detect?.url ?? null,
    snapshotUrl: snapshot?.url ?? null,
    username: field('username'),
    password: field('password'),
    credentialsGiven,
    enabled: (o.enabled as boolean | undefined) ?? true,
    detectFps: detectFps as number,
    options,
  };
}

/** Where a camera's credentials may be sent: the origin (scheme://host:port) of each URL that carries them. */
function credentialTargets(c: {
  recordUrl: string;
  detectUrl: string | null;
  snapshotUrl: string | null;
  options: Record<string, unknown>;
}) {
  const onvif = typeof c.options.onvif === 'string' ? c.options.onvif : null;
  return {
    record: urlOrigin(c.recordUrl),
    detect: urlOrigin(c.detectUrl ?? c.recordUrl), // the sub stream falls back to the main one
    snapshot: c.snapshotUrl ? urlOrigin(c.snapshotUrl) : null,
    onvif: onvif ? urlOrigin(onvif) : null,
  };
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether stored credentials would reach another place than the one they were given for: the scheme, host or port
 * of the main or sub stream changed, or of the snapshot URL or ONVIF address (one that is new must be on the main
 * stream's host, the same device).
 */
export function credentialsRepointed(
  before: Parameters<typeof credentialTargets>[0],
  after: Parameters<typeof credentialTargets>[0],
): boolean {
  const a = credentialTargets(before);
  const b = credentialTargets(after);
  if (a.record !== b.record || a.detect !== b.detect) return true;
  const sameDevice = (url: string) => hostOf(url) !== undefined && hostOf(url) === hostOf(before.recordUrl);
  const onvifAfter = typeof after.options.onvif === 'string' ? after.options.onvif : null;
  for (const [was, now, url] of [
    [a.snapshot, b.snapshot, after.snapshotUrl],
    [a.onvif, b.onvif, onvifAfter],
  ] as const) {
    if (now === null || now === was) continue;
    if (was !== null || !url || !sameDevice(url)) return true;
  }
  return false;
}

/** The warning for credentials on plain rtsp://, or undefined. */
function plainRtspCredentials(v: { recordUrl: string; detectUrl: string | null }): string | undefined {
  const plain = [v.recordUrl, v.detectUrl].some((u) => u?.toLowerCase().startsWith('rtsp://'));
  return plain
    ? 'the username and password are used over plain rtsp://: a camera that asks for Basic authentication receives ' +
        'the password in clear text, readable by anyone on the network path; use rtsps:// if the camera offers it ' +
        '(cameraSources.refusePlainRtspCredentials: true refuses such cameras)'
    : undefined;
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
  private readonly key: Buffer;

  /**
   * `defaults.detectFps` (the configuration's detection.fps) is given to cameras added without one. Credentials are
   * sealed with the key in camera-credentials.key beside the database file (made on first use); rows stored in
   * plaintext by an older version are sealed now.
   */
  constructor(
    private readonly db: Db,
    readonly defaults: { detectFps: number } = { detectFps: configDefaults().detection.fps },
  ) {
    this.key = credentialKey(db.memory ? ':memory:' : db.name);
    this.sealPlaintextRows();
  }

  private aad(cameraId: string, field: 'username' | 'password'): string {
    return `guardian camera credentials v1 ${cameraId} ${field}`;
  }

  private row(id: string): Row | undefined {
    const r = this.db
      .prepare(
        `SELECT c.*, cr.username, cr.password, cr.sealed, s.status, s.last_seen, s.last_error, s.last_error_code,
                s.reconnects, s.input_fps, s.bitrate_kbps
           FROM cameras c
           LEFT JOIN camera_credentials cr ON cr.camera_id = c.id
           LEFT JOIN camera_status s ON s.camera_id = c.id
          WHERE c.id = ?`,
      )
      .get(id) as Row | undefined;
    if (r && r.username !== null && r.sealed === 1) {
      // A value that does not open (the key file was replaced) is no credential: the camera then reports
      // UNAUTHORIZED and the owner gives the password again.
      const username = unseal(this.key, r.username, this.aad(r.id, 'username'));
      const password = r.password === null ? undefined : unseal(this.key, r.password, this.aad(r.id, 'password'));
      r.username = username ?? '';
      r.password = username === undefined ? '' : (password ?? '');
      addSecret(r.password); // censored in every log line of this process from now on
    }
    return r;
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

  /** Adds a camera. Host names are not resolved here (addChecked does that); connections check them again. */
  add(input: CameraInput | unknown, policy: CameraPolicy = defaultCameraPolicy): Camera {
    return this.insert(input, policy).camera;
  }

  /** Adds a camera after resolving its host names and checking every address (the HTTP API's way). */
  async addChecked(input: CameraInput | unknown, policy: CameraPolicy, resolve?: Resolver): Promise<SavedCamera> {
    const notes = await this.checkHosts(validateCamera(input, this.defaults, policy), resolve);
    const saved = this.insert(input, policy);
    return { ...saved, warnings: [...notes, ...saved.warnings] };
  }

  /**
   * Replaces a camera's description. Stored credentials are kept while every URL they are used for keeps its scheme,
   * host and port; when one of those changes they are dropped, unless given again in the same change.
   */
  update(id: string, input: Partial<CameraInput>, policy: CameraPolicy = defaultCameraPolicy): Camera {
    return this.change(id, input, policy).camera;
  }

  /** update() after resolving the host names and checking every address (the HTTP API's way). */
  async updateChecked(
    id: string,
    input: Partial<CameraInput>,
    policy: CameraPolicy,
    resolve?: Resolver,
  ): Promise<SavedCamera> {
    const current = this.row(id);
    if (!current) throw new NotFoundError(`no camera with id "${id}"`);
    const notes = await this.checkHosts(validateCamera(this.merged(current, input), this.defaults, policy), resolve);
    const saved = this.change(id, input, policy);
    return { ...saved, warnings: [...notes, ...saved.warnings] };
  }

  /** Refuses hosts that resolve somewhere a camera must not be; the warnings of names that do not resolve now. */
  private async checkHosts(v: Validated, resolve?: Resolver): Promise<string[]> {
    const { issues, warnings } = await checkCameraHosts(
      [
        { field: 'recordUrl', url: v.recordUrl, purpose: 'stream' },
        { field: 'detectUrl', url: v.detectUrl, purpose: 'stream' },
        { field: 'snapshotUrl', url: v.snapshotUrl, purpose: 'snapshot' },
        { field: 'options.onvif', url: v.options.onvif as string | undefined, purpose: 'snapshot' },
      ],
      resolve,
    );
    if (issues.length) throw new ValidationError(issues);
    return warnings;
  }

  private insert(input: unknown, policy: CameraPolicy): SavedCamera {
    const v = validateCamera(input, this.defaults, policy);
    const credentials = v.username ? { username: v.username, password: v.password ?? '' } : null;
    const warnings = this.credentialWarnings(v, credentials, policy);
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
      this.saveCredentials(v.id, credentials);
    })();
    return { camera: this.get(v.id), warnings };
  }

  private merged(current: Row, input: Partial<CameraInput>): Record<string, unknown> {
    return {
      name: current.name,
      kind: current.kind,
      recordUrl: current.record_url,
      detectUrl: current.detect_url,
      snapshotUrl: current.snapshot_url,
      enabled: current.enabled === 1,
      detectFps: current.detect_fps,
      options: JSON.parse(current.options),
      ...input,
      id: current.id,
    };
  }

  private change(id: string, input: Partial<CameraInput>, policy: CameraPolicy): SavedCamera {
    const current = this.row(id);
    if (!current) throw new NotFoundError(`no camera with id "${id}"`);
    const v = validateCamera(this.merged(current, input), this.defaults, policy);
    const stored = current.username !== null ? { username: current.username, password: current.password ?? '' } : null;
    const repointed = credentialsRepointed(
      {
        recordUrl: current.record_url,
        detectUrl: current.detect_url,
        snapshotUrl: current.snapshot_url,
        options: JSON.parse(current.options) as Record<string, unknown>,
      },
      v,
    );
    const warnings: string[] = [];
    let credentials = repointed ? null : stored;
    if (v.credentialsGiven) {
      const cleared = input.username === null || input.username === '';
      const username = cleared ? null : (v.username ?? stored?.username ?? null);
      // A password stays only where it was given: never carried to a new address, even with a new username.
      const password = v.password ?? (repointed ? '' : (stored?.password ?? ''));
      credentials = username ? { username, password } : null;
    } else if (repointed && stored)
      warnings.push(
        'the stored username and password were dropped: the camera now points at another address (scheme, host or ' +
          'port changed); give them again if it needs them',
      );
    warnings.push(...this.credentialWarnings(v, credentials, policy));
    this.db.transaction(() => {
      this.db
        .prepare(
          `UPDATE cameras SET name = @name, kind = @kind, record_url = @recordUrl, detect_url = @detectUrl,
                  snapshot_url = @snapshotUrl, enabled = @enabled, detect_fps = @detectFps, options = @options,
                  updated_at = @now
            WHERE id = @id`,
        )
        .run(columns({ ...v, id }, Date.now()));
      const same =
        credentials?.username === stored?.username && credentials?.password === stored?.password && current.sealed;
      if (!same) this.saveCredentials(id, credentials);
    })();
    return { camera: this.get(id), warnings };
  }

  /** Warns about (or, with cameraSources.refusePlainRtspCredentials, refuses) credentials over plain RTSP. */
  private credentialWarnings(v: Validated, credentials: { username: string } | null, policy: CameraPolicy): string[] {
    const plain = credentials && v.kind !== 'file' && v.kind !== 'usb' ? plainRtspCredentials(v) : undefined;
    if (!plain) return [];
    if (policy.refusePlainRtspCredentials)
      throw new ValidationError([
        {
          field: v.recordUrl.toLowerCase().startsWith('rtsp://') ? 'recordUrl' : 'detectUrl',
          message:
            'credentials over plain rtsp:// are refused here (cameraSources.refusePlainRtspCredentials): use ' +
            'rtsps:// or a camera without a password',
        },
      ]);
    return [plain];
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

  /**
   * Writes (or removes) a camera's credentials, sealed. SQLite's secure_delete overwrites what a row held before,
   * so an old password is not left in a free page of the file either.
   */
  private saveCredentials(id: string, credentials: { username: string; password: string } | null): void {
    this.withSecureDelete(() => {
      if (!credentials) {
        this.db.prepare('DELETE FROM camera_credentials WHERE camera_id = ?').run(id);
        return;
      }
      this.db
        .prepare(
          `INSERT INTO camera_credentials (camera_id, username, password, sealed) VALUES (?, ?, ?, 1)
           ON CONFLICT(camera_id) DO UPDATE SET username = excluded.username, password = excluded.password,
                                                sealed = 1`,
        )
        .run(
          id,
          seal(this.key, credentials.username, this.aad(id, 'username')),
          seal(this.key, credentials.password, this.aad(id, 'password')),
        );
    });
  }

  private withSecureDelete(fn: () => void): void {
    const before = this.db.pragma('secure_delete', { simple: true }) as number;
    this.db.pragma('secure_delete = ON');
    try {
      fn();
    } finally {
      this.db.pragma(`secure_delete = ${before ? 'ON' : 'OFF'}`);
    }
  }

  /**
   * Seals the credentials an older version stored in plaintext, then checkpoints the WAL so that no copy of the
   * plaintext is left in it either (secure_delete has zeroed the old cells in the database pages).
   */
  private sealPlaintextRows(): void {
    const rows = this.db
      .prepare('SELECT camera_id, username, password FROM camera_credentials WHERE sealed = 0')
      .all() as { camera_id: string; username: string; password: string }[];
    if (!rows.length) return;
    this.db.transaction(() => {
      for (const r of rows) this.saveCredentials(r.camera_id, { username: r.username, password: r.password });
    })();
    if (!this.db.memory) {
      this.withSecureDelete(() => this.db.exec('VACUUM'));
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    }
  }
}
