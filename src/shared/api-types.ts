// The shapes the edge's HTTP API answers with, declared once: the server's modules use these types (so a change
// there is a type error here), and the web UI imports them (type-only) instead of declaring its own. No imports:
// the UI's compiler sees this file alone.

export type Box = [number, number, number, number];

export type CameraKind = 'rtsp' | 'onvif' | 'usb' | 'file';

export type CameraStatus = 'disabled' | 'connecting' | 'online' | 'offline' | 'error';

export interface CameraHealth {
  status: CameraStatus;
  lastSeen: number | null;
  lastError: string | null;
  lastErrorCode: string | null;
  reconnects: number;
  inputFps: number | null;
  bitrateKbps: number | null;
}

/** What the tamper detector reports; distinct from a camera being offline. */
export type TamperKind = 'covered' | 'dark' | 'defocused' | 'moved' | 'frozen';

/** A camera's live state in the media process (GET /cameras: `runtime`; GET /status: each camera). */
export interface CameraRuntime extends CameraHealth {
  detectFps: number;
  skippedFps: number;
  inferenceMs: number | null;
  recording: boolean;
  recordingPaused: boolean;
  recordingReason: string | null;
  /** The tamper condition the camera is in now, if any. */
  tamper?: TamperKind | null;
  /** Live anomaly scoring, when the camera has an active model and anomaly detection on. */
  anomaly?: AnomalyRuntime | null;
  /** Idle: nothing has moved for a while, so only keyframes are decoded (recording is untouched). */
  keyframesOnly?: boolean;
}

/** Live anomaly scoring of one camera in the media process. */
export interface AnomalyRuntime {
  /** Model version scored with. */
  version: number;
  /** Frames scored, and the median milliseconds per scored frame (backbone + scoring + tensor). */
  frames: number;
  msPerFrame: number | null;
  /** Most of the picture changed at once (lights, IR switch): not scoring until it settles. */
  recalibrating: boolean;
  /** Whole-picture changes seen since scoring started, each a recalibration rather than an alarm. */
  recalibrations: number;
  /** An `unusual` event is open. */
  unusual: boolean;
}

/** A camera's anomaly model (GET /cameras/:id/anomaly). */
export type AnomalyModelState =
  | { state: 'none'; lastFailure: AnomalyFailure | null }
  | { state: 'learning'; progress: number; startedAt: string; hours: number; lastFailure: AnomalyFailure | null }
  | ({ state: 'active'; lastFailure: AnomalyFailure | null } & AnomalyModelInfo)
  | { state: 'failed'; reason: string; at: string; lastFailure: AnomalyFailure };

export interface AnomalyModelInfo {
  version: number;
  kind: string;
  fittedAt: string;
  threshold: number;
  /** Recordings (clips) and seconds of video the model learned from (held-out ones included). */
  clips: number;
  seconds: number;
  fps: number;
  /** Where it came from: fitted here (learn), or the owner's server's catalog (its model id). */
  source: 'learned' | 'server';
  modelId: string | null;
  /** Every version kept, newest first; rollback goes to the one below the active one. */
  versions: number[];
  /** The picture regimes it has banks for: colour (day), mono (night, IR), or any (one bank, older models). */
  regimes: string[];
  /** Whether it scores tracked objects (class, speed, direction and size against what is normal here). */
  objectCues: boolean;
  /** What the last model change did (a deployment refused, a model that failed to load and was rolled back). */
  lastChange: { at: string; state: 'active' | 'failed' | 'rolled_back'; message: string | null } | null;
  /** Live scoring now (null: not scored, e.g. anomaly detection switched off for the camera). */
  live: AnomalyRuntime | null;
}

/** Why the last learning attempt failed (the active model, if any, is unchanged). */
export interface AnomalyFailure {
  reason: string;
  at: string;
}

/** A camera as APIs and logs may show it: no credentials, ever. */
export interface Camera {
  id: string;
  name: string;
  kind: CameraKind;
  recordUrl: string;
  detectUrl: string | null;
  snapshotUrl: string | null;
  hasCredentials: boolean;
  enabled: boolean;
  detectFps: number;
  options: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
  health: CameraHealth;
}

/** GET /cameras, GET /cameras/:id. */
export interface CameraView extends Camera {
  runtime: CameraRuntime | null;
}

export interface TrackedObject {
  trackId: number;
  label: string;
  score: number;
  box: Box;
  confirmed: boolean;
  stationary: boolean;
  zones: string[];
}

/** What the detector saw on one sampled frame of a camera. */
export interface FrameDetections {
  cameraId: string;
  frameIndex: number;
  pts: number;
  wallClockMs: number;
  width: number;
  height: number;
  detections: TrackedObject[];
}

/** GET /cameras/:id/detections (null before the model ran): boxes in pixels of a width×height frame. */
export interface LatestDetections extends Omit<FrameDetections, 'pts'> {
  /** Measured by the edge, so the UI can drop stale boxes without trusting the browser's clock. */
  ageMs: number;
}

/** An event as the owner's server receives it (the wire JSON of the link). */
export interface EventJson {
  id: string;
  cameraId: string;
  trackId: number;
  label: string;
  labels: string[];
  zones: string[];
  startMs: number;
  endMs: number | null;
  maxScore: number;
  meanScore: number;
  detections: number;
  boxPath: number[][];
  protected: boolean;
  updatedMs: number;
  hasSnapshot: boolean;
  hasClip: boolean;
  /** What the owner's rules made of it (critical, warning, normal, false_positive); null before it is rated. */
  severity: string | null;
  /** The owner's word on it: a real event, or a false positive (which teaches the alerts); null: not given. */
  verdict: 'confirmed' | 'false_positive' | null;
  /** The edge's second, closer look at its best frame (src/edge/detect/second-look.ts); null: none (yet). */
  secondOpinion: { verdict: 'confirmed' | 'false_positive'; score: number } | null;
}

/** An event as the edge stores it: the wire event plus its local files (names relative to the data dir). */
export interface EventRecord extends Omit<EventJson, 'boxPath' | 'hasSnapshot' | 'hasClip'> {
  boxPath: [number, ...Box][];
  snapshot: string | null;
  snapshotBox: Box | null;
  thumbnail: string | null;
  clip: string | null;
}

/** The encrypted copy on the owner's server, by object: queued (on its way) or stored. */
export type ArchiveState = Partial<Record<'clip' | 'snapshot' | 'metadata', 'queued' | 'stored'>>;

/** GET /events (each of `events`), GET /events/:id. */
export interface EventView extends EventRecord {
  archive: ArchiveState;
}

/** The link to the owner's server, as the edge sees it. */
export interface LinkState {
  configured: boolean;
  connected: boolean;
  lastError: string | null;
  edgeId: string | null;
  vm: string | null;
  tunnel: boolean;
  tunnelAddress: string | null;
  latencyMs: number | null;
  handshakeAgeSeconds: number | null;
  rxBytes: number | null;
  txBytes: number | null;
  delivered: number;
  reconnects: number;
  /** What the server said about this edge at its last telemetry report (e.g. archive quota warnings). */
  serverWarnings: string[];
}

/** GET /status. */
export interface StatusView {
  version: string;
  uptimeSeconds: number;
  media: {
    running: boolean;
    pid: number | null;
    restarts: number;
    backend: { name: string; fallback: string | null } | null;
  };
  cameras: ({ id: string; name: string } & CameraHealth & Partial<CameraRuntime>)[];
  camerasOnline: number;
  eventsToday: number;
  outboxLength: number;
  link: LinkState;
  /** What the check of the database at start found; when damaged, what was salvaged into a new one. */
  database: {
    ok: boolean;
    problems: string[];
    salvage?: { rows: Record<string, number>; unreadable: Record<string, number>; damagedCopy: string };
  };
  /** The UI certificate's SHA-256 fingerprint, when the UI is served over HTTPS. */
  tlsFingerprint: string | null;
  /** The certificate from the ACME CA, when http.tls.acme is set. */
  acme: AcmeStatus | null;
}

/** A certificate ordered from an ACME CA for the owner's domain. */
export interface AcmeStatus {
  domain: string;
  /** pending: not issued yet (the self-signed one is served); failed: the last order failed and will be retried. */
  state: 'pending' | 'issued' | 'failed';
  notAfter: string | null;
  lastError: string | null;
  /** When the next order or renewal is due (ms since the epoch). */
  nextMs: number | null;
}

/** One channel's delivery of an alert. */
export interface AlertDeliveryView {
  channel: 'webhook' | 'ntfy' | 'email' | 'webpush' | 'mqtt';
  state: 'pending' | 'sent' | 'failed';
  attempts: number;
  nextMs: number;
  lastError: string | null;
  sentMs: number | null;
}

/** GET /alerts (each of `alerts`). */
export interface AlertView {
  id: string;
  incident: string;
  kind: string;
  severity: 'critical' | 'warning' | 'normal' | 'false_positive';
  cameraId: string | null;
  title: string;
  message: string;
  labels: string[];
  zones: string[];
  eventIds: string[];
  createdMs: number;
  deliveries: AlertDeliveryView[];
}

/** GET /alerts/channels (each of `channels`). */
export interface AlertChannelView {
  name: AlertDeliveryView['channel'];
  enabled: boolean;
  ready: boolean;
  problem: string | null;
  reveals: string | null;
  minSeverity: AlertView['severity'];
  secretSet: boolean;
}

/** GET /alerts/suppressions (each of `suppressions`): what false positives taught. */
export interface AlertSuppressionView {
  id: string;
  cameraId: string;
  label: string;
  /** '' : anywhere on the camera. */
  zone: string;
  minScore: number;
  falsePositives: number;
  createdMs: number;
}
