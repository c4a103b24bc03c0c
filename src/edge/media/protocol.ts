// Messages between the main process and the media process (Node IPC, advanced serialization: Buffers pass as is).
import type { CameraHealth } from '../cameras/registry.ts';
import type { FrameDetections } from '../events/generator.ts';

export interface CameraRuntime extends CameraHealth {
  detectFps: number;
  skippedFps: number;
  inferenceMs: number | null;
  recording: boolean;
  recordingPaused: boolean;
  recordingReason: string | null;
}

export type ToMedia =
  | { type: 'init'; configPath: string | null; config: unknown; dbPath: string }
  | { type: 'request'; id: number; method: string; params: Record<string, unknown> };

export type FromMedia =
  | { type: 'ready'; backend: string; fallback: string | null }
  | { type: 'heartbeat'; cameras: Record<string, CameraRuntime>; rss: number }
  | { type: 'frame'; frame: FrameDetections; motion: boolean; detected: boolean; inferenceMs: number }
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: { code: string; message: string } }
  | { type: 'fatal'; error: string };
