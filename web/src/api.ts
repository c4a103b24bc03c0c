// Talks to the edge API: the session cookie travels by itself; changes carry the CSRF token from its cookie.
import { type Endpoint, type Query, resolve } from './endpoints.ts';

export { url } from './endpoints.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: { field: string; message: string }[] = [],
  ) {
    super(message);
  }
}

function csrf(): string {
  return decodeURIComponent(/(?:^|; )guardian_csrf=([^;]*)/.exec(document.cookie)?.[1] ?? '');
}

/** Calls an endpoint of the table in endpoints.ts; rejects with an ApiError carrying the API's field errors. */
export async function api<T = unknown>(
  endpoint: Endpoint,
  init: { id?: string; query?: Query; body?: unknown } = {},
): Promise<T> {
  const { method, url } = resolve(endpoint, init);
  const res = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers: {
      ...(init.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(method !== 'GET' ? { 'X-CSRF-Token': csrf() } : {}),
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    const e = data?.error ?? {};
    if (res.status === 401) window.dispatchEvent(new Event('guardian:logged-out'));
    throw new ApiError(res.status, e.code ?? 'ERROR', e.message ?? res.statusText, e.issues ?? []);
  }
  return data as T;
}

export interface CameraRuntime {
  status: string;
  lastSeen: number | null;
  lastError: string | null;
  inputFps: number | null;
  detectFps: number;
  inferenceMs: number | null;
  recording: boolean;
  reconnects: number;
}

export interface Camera {
  id: string;
  name: string;
  kind: string;
  recordUrl: string;
  detectUrl: string | null;
  enabled: boolean;
  detectFps: number;
  health: { status: string; lastSeen: number | null; lastError: string | null; inputFps: number | null };
  runtime: CameraRuntime | null;
}

export interface GuardianEvent {
  id: string;
  cameraId: string;
  label: string;
  labels: string[];
  zones: string[];
  startMs: number;
  endMs: number | null;
  maxScore: number;
  meanScore: number;
  boxPath: [number, number, number, number, number][];
  snapshot: string | null;
  thumbnail: string | null;
  protected: boolean;
  /** The encrypted copy on the owner's server, by object: queued (on its way) or stored. */
  archive?: ArchiveState;
}

export type ArchiveState = Partial<Record<'clip' | 'snapshot' | 'metadata', 'queued' | 'stored'>>;

/** GET /cameras/:id/detections: the tracks of the last frame the model saw; boxes in pixels of width×height. */
export interface LatestDetections {
  cameraId: string;
  frameIndex: number;
  wallClockMs: number;
  ageMs: number;
  width: number;
  height: number;
  detections: {
    trackId: number;
    label: string;
    score: number;
    box: [number, number, number, number];
    confirmed: boolean;
    stationary: boolean;
    zones: string[];
  }[];
}

export interface Status {
  version: string;
  uptimeSeconds: number;
  media: { running: boolean; restarts: number; backend: { name: string; fallback: string | null } | null };
  cameras: ({ id: string; name: string } & CameraRuntime)[];
  camerasOnline: number;
  eventsToday: number;
  outboxLength: number;
  link: {
    configured: boolean;
    connected: boolean;
    lastError: string | null;
    edgeId: string | null;
    vm: string | null;
    tunnel: boolean;
    tunnelAddress: string | null;
    latencyMs: number | null;
    handshakeAgeSeconds: number | null;
    delivered: number;
    /** The server's warnings about this edge (archive quota at 80 % or full). */
    serverWarnings: string[];
  };
}
