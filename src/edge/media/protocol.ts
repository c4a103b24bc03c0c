// Messages between the main process and the media process (Node IPC, advanced serialization: Buffers pass as is).
// This file owns every type that crosses the boundary and imports nothing from the edge's domain modules, so both
// sides agree on one definition and `MediaProcess.request()` is typed by method.

export type Box = [number, number, number, number];

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

export interface CameraRuntime extends CameraHealth {
  detectFps: number;
  skippedFps: number;
  inferenceMs: number | null;
  recording: boolean;
  recordingPaused: boolean;
  recordingReason: string | null;
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

/** How a new configuration was applied: live, or by restarting what had to restart. */
export interface ConfigureReport {
  /** Settings in effect from the next frame. */
  live: string[];
  /** Settings that restarted every camera's stream (a few seconds without frames; recording resumes). */
  restartedCameras: string[];
  /** The inference backend now running (it changes when model, backend, device or threads change). */
  backend: { name: string; fallback: string | null };
}

/** Every request the main process can make of the media process: params and result. */
export interface MediaMethods {
  snapshot: {
    params: { cameraId: string; frameIndex?: number; width: number; quality: number };
    result: Uint8Array;
  };
  clip: { params: { cameraId: string; startMs: number; endMs: number; output: string }; result: { bytes: number } };
  reloadCamera: { params: { cameraId: string }; result: true };
  testCamera: { params: { url: string }; result: { info: unknown; preview: Uint8Array | null } };
  configure: { params: { config: unknown }; result: ConfigureReport };
  claim: { params: { cameraId: string; startMs: number; endMs: number }; result: number };
}

export type MediaMethod = keyof MediaMethods;

export type ToMedia =
  | { type: 'init'; configPath: string | null; config: unknown; dbPath: string }
  | { type: 'request'; id: number; method: MediaMethod; params: MediaMethods[MediaMethod]['params'] };

export type FromMedia =
  | { type: 'ready'; backend: string; fallback: string | null }
  | { type: 'heartbeat'; cameras: Record<string, CameraRuntime>; rss: number }
  | { type: 'frame'; frame: FrameDetections; motion: boolean; detected: boolean; inferenceMs: number }
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: { code: string; message: string } }
  | { type: 'fatal'; error: string };
