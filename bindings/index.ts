// The media core as TypeScript sees it: probe a source, open it, read sampled frames, take snapshots.
// Every argument is validated here (bindings/options.ts) before it reaches C++.
import { GuardianError } from './errors.ts';
import { loadAddon, type NativeSourceHandle } from './native.ts';
import {
  type SourceOptions,
  validateClipOptions,
  validateCropRegion,
  validateDevicePath,
  validateMotionOptions,
  validateMotionPlane,
  validateSnapshot,
  validateSourceOptions,
} from './options.ts';
import type {
  ClipResult,
  CropTensor,
  MotionOptions,
  MotionResult,
  NativeFrame,
  NativeMotionDetector,
  NativeStats,
  NativeStreamInfo,
  V4l2DeviceInfo,
} from './types.ts';

export { ERROR_CODES, type ErrorCode, GuardianError, isErrorCode, MediaError } from './errors.ts';
export { classifySource, type SourceOptions, type TensorOptions, tensorPresets } from './options.ts';
export type {
  NativeFrame as Frame,
  NativeStats as SourceStats,
  NativeStreamInfo as StreamInfo,
  RecorderEvent,
  V4l2DeviceInfo,
} from './types.ts';
export type { ClipResult, CropTensor, MotionOptions, MotionResult };

export interface OpenedStreamInfo extends NativeStreamInfo {
  /** Which decoder runs: vaapi or none (software). */
  hwaccel: string;
  /** Why hardware decoding is not used, when it was asked for or auto found no device. */
  hwaccelError: string | null;
}

// Native errors arrive as GuardianErrors made on the JS thread after the fact (their stack says nothing); give them
// the caller's stack. Anything else (a TypeError from the addon) becomes a GuardianError.
function wrap(err: unknown): GuardianError {
  if (err instanceof GuardianError) {
    Error.captureStackTrace(err, wrap);
    return err;
  }
  const e = err as { code?: string; message?: string };
  return new GuardianError((e?.code as GuardianError['code']) ?? 'MEDIA_ERROR', e?.message ?? String(err));
}

export async function probe(
  source: string,
  options: Pick<SourceOptions, 'transport' | 'connectTimeoutMs' | 'readTimeoutMs'> = {},
): Promise<NativeStreamInfo> {
  const v = validateSourceOptions(source, options);
  try {
    return await loadAddon().probe({
      url: v.url,
      label: v.label,
      transport: v.transport,
      connectTimeoutMs: v.connectTimeoutMs,
      readTimeoutMs: v.readTimeoutMs,
      protocolWhitelist: v.protocolWhitelist,
      formatWhitelist: v.formatWhitelist,
    });
  } catch (err) {
    throw wrap(err);
  }
}

export class MediaSource implements AsyncIterable<NativeFrame> {
  readonly label: string;
  info!: OpenedStreamInfo;
  private readonly handle: NativeSourceHandle;
  private closed = false;

  private constructor(handle: NativeSourceHandle, label: string) {
    this.handle = handle;
    this.label = label;
  }

  /** Opens the source; demux and decode then run on a native thread until close() or the end. */
  static async open(source: string, options: SourceOptions = {}): Promise<MediaSource> {
    const v = validateSourceOptions(source, options);
    const handle = new (loadAddon().NativeSource)(v);
    const ms = new MediaSource(handle, v.label);
    try {
      ms.info = await handle.open();
    } catch (err) {
      await handle.close();
      throw wrap(err);
    }
    return ms;
  }

  /** Next sampled frame, or null at the end of the source (or after close). */
  async read(): Promise<NativeFrame | null> {
    try {
      return await this.handle.read();
    } catch (err) {
      throw wrap(err);
    }
  }

  /** JPEG of a recent sampled frame (default the newest); width 0 keeps full size. */
  async snapshot(options: { index?: number; width?: number; quality?: number } = {}): Promise<Buffer> {
    const { index, width, quality } = validateSnapshot(options);
    try {
      return await this.handle.snapshot(index, width, quality);
    } catch (err) {
      throw wrap(err);
    }
  }

  /** The model tensor of a region of a recent sampled frame (same layout as the frame's own tensor). */
  async cropTensor(
    index: number,
    region: { x: number; y: number; width: number; height: number },
  ): Promise<CropTensor> {
    const r = validateCropRegion(index, region);
    try {
      return await this.handle.cropTensor(r.index, r.x, r.y, r.width, r.height);
    } catch (err) {
      throw wrap(err);
    }
  }

  stats(): NativeStats {
    return this.handle.stats();
  }

  /**
   * Decode keyframes only (an idle camera: a fraction of the CPU) or every frame. Takes effect at the next keyframe,
   * so a switch back to every frame waits at most one group of pictures. Every packet is still recorded.
   */
  setKeyframesOnly(on: boolean): void {
    if (!this.closed) this.handle.setKeyframesOnly(on);
  }

  /** Safe at any moment and more than once; pending reads resolve with null. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<NativeFrame> {
    for (;;) {
      const frame = await this.read();
      if (!frame) return;
      yield frame;
    }
  }
}

export function openSource(source: string, options?: SourceOptions): Promise<MediaSource> {
  return MediaSource.open(source, options);
}

/** V4L2 capabilities of a /dev/videoN node: driver, card, bus, capture formats and sizes. */
export async function queryV4l2(path: string): Promise<V4l2DeviceInfo> {
  const device = validateDevicePath(path);
  try {
    return await loadAddon().v4l2Query(device);
  } catch (err) {
    throw wrap(err);
  }
}

/** Motion detection on grey planes (C++): running-average background, contrast stretch, regions, masks. */
export class MotionDetector {
  private readonly native: NativeMotionDetector;
  constructor(options: MotionOptions = {}) {
    this.native = new (loadAddon().MotionDetector)(validateMotionOptions(options));
  }
  detect(plane: { data: Uint8Array; width: number; height: number }): MotionResult {
    const p = validateMotionPlane(plane);
    return this.native.detect(p.data, p.width, p.height);
  }
  /** Replaces the options (fields left out take their defaults) and re-learns the scene. */
  configure(options: MotionOptions): void {
    this.native.configure(validateMotionOptions(options));
  }
}

/** One MP4 from [start, end] seconds of consecutive segment files, by stream copy from the keyframe at or before start. */
export async function exportClip(options: {
  inputs: string[];
  start: number;
  end: number;
  output: string;
}): Promise<ClipResult> {
  const clip = validateClipOptions(options);
  try {
    return await loadAddon().exportClip(clip);
  } catch (err) {
    throw wrap(err);
  }
}
