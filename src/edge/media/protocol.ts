// Messages between the main process and the media process (Node IPC, advanced serialization: Buffers pass as is).
// This file owns every type that crosses the boundary and imports nothing from the edge's domain modules, so both
// sides agree on one definition and `MediaProcess.request()` is typed by method. The media process has no database:
// the main process sends it the cameras to run, and it reports finished segments and camera health back.
import type { ClipResult, RecorderEvent } from '../../../bindings/index.ts';
import type {
  AnomalyRuntime,
  Box,
  CameraHealth,
  CameraKind,
  CameraRuntime,
  CameraStatus,
  FrameDetections,
  TamperKind,
  TrackedObject,
} from '../../shared/api-types.ts';

export type {
  AnomalyRuntime,
  Box,
  CameraHealth,
  CameraKind,
  CameraRuntime,
  CameraStatus,
  FrameDetections,
  TamperKind,
  TrackedObject,
};

/** How to reach a camera (credentials included: it stays in memory and on the IPC channel, never in a log). */
export interface CameraConnection {
  id: string;
  kind: CameraKind;
  recordUrl: string;
  detectUrl: string;
  detectFps: number;
  options: Record<string, unknown>;
}

/** A camera as the media process runs it. */
export interface CameraEntry extends CameraConnection {
  enabled: boolean;
}

/** A camera's picture became covered, dark, ... (start), or was back (end). */
export interface TamperMessage {
  type: 'tamper';
  cameraId: string;
  kind: TamperKind;
  state: 'start' | 'end';
  /** When the condition began (start: the event's start, some seconds before it was confirmed) or cleared. */
  wallClockMs: number;
  /** The sampled frame that confirmed the change (still in the media process's snapshot ring); null when the
   *  detector was dropped (camera removed or restarted, tamper detection switched off). */
  frameIndex: number | null;
}

/** A camera's active anomaly model did not load or run in the media process (the main process rolls it back). */
export interface AnomalyModelFailedMessage {
  type: 'anomalyModelFailed';
  cameraId: string;
  version: number;
  message: string;
}

/** An `unusual` event on a camera started (k of the last n scored frames above its model's threshold) or ended. */
export interface AnomalyMessage {
  type: 'anomaly';
  cameraId: string;
  state: 'start' | 'end';
  wallClockMs: number;
  /** The frame that confirmed the start (in the snapshot ring); null for an end. */
  frameIndex: number | null;
  width: number;
  height: number;
  /** Peak smoothed score over the (sensitivity-scaled) threshold so far: 1 = at the threshold. */
  score: number;
  /** The most unusual cell, as fractions of the frame [x1, y1, x2, y2]. */
  region: [number, number, number, number];
  explanation: string;
  /** Model version that scored it. */
  version: number;
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
  /** Runs these cameras (sent once the main process has reconciled the recordings after a (re)start). */
  startCameras: { params: { cameras: CameraEntry[] }; result: true };
  /** A camera was added, changed (null: removed): only it restarts. */
  reloadCamera: { params: { cameraId: string; camera: CameraEntry | null }; result: true };
  snapshot: {
    /** live: for a live viewer (an idle camera then decodes every frame for a while). */
    params: { cameraId: string; frameIndex?: number; width: number; quality: number; live?: boolean };
    result: Uint8Array;
  };
  /** A closer look at an event's object in a recent frame (src/edge/detect/second-look.ts). */
  secondLook: {
    params: {
      cameraId: string;
      frameIndex: number;
      width: number;
      height: number;
      box: [number, number, number, number];
      label: string;
      confirmScore: number;
    };
    result: { verdict: 'confirmed' | 'false_positive'; score: number; ms: number };
  };
  /** Stream copy of [start, end] seconds of consecutive segment files into one MP4. */
  exportClip: { params: { inputs: string[]; start: number; end: number; output: string }; result: ClipResult };
  /** Playable duration of a recording file, read without decoding (null: nothing playable). */
  measure: { params: { path: string }; result: { duration: number; frames: number } | null };
  testCamera: { params: { url: string }; result: { info: unknown; preview: Uint8Array | null } };
  configure: { params: { config: unknown }; result: ConfigureReport };
  /** A camera's active anomaly model (null: none); scoring starts at its next frame when anomaly is enabled. */
  setAnomalyModel: { params: { cameraId: string; model: { dir: string; version: number } | null }; result: true };
}

export type MediaMethod = keyof MediaMethods;

export type ToMedia =
  | { type: 'init'; config: unknown }
  | { type: 'request'; id: number; method: MediaMethod; params: MediaMethods[MediaMethod]['params'] };

export type FromMedia =
  | { type: 'ready'; backend: string; fallback: string | null }
  | { type: 'heartbeat'; cameras: Record<string, CameraRuntime>; rss: number }
  | { type: 'recording'; cameraId: string; event: RecorderEvent }
  | { type: 'frame'; frame: FrameDetections; motion: boolean; detected: boolean; inferenceMs: number }
  | TamperMessage
  | AnomalyMessage
  | AnomalyModelFailedMessage
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: { code: string; message: string } }
  | { type: 'fatal'; error: string };
