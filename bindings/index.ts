// The media core as TypeScript sees it: probe a source, open it, read sampled frames, take snapshots.
import { loadAddon, type NativeSourceHandle } from './native.ts';
import { classifySource, MediaError, type SourceOptions, validateSourceOptions } from './options.ts';
import type {
  ClipResult,
  CropTensor,
  ErrorCode,
  MotionResult,
  NativeFrame,
  NativeMotionDetector,
  NativeMotionOptions,
  NativeStats,
  NativeStreamInfo,
  V4l2DeviceInfo,
} from './types.ts';

export { classifySource, MediaError, type SourceOptions, type TensorOptions, tensorPresets } from './options.ts';
export type {
  ErrorCode,
  NativeFrame as Frame,
  NativeStats as SourceStats,
  NativeStreamInfo as StreamInfo,
  RecorderEvent,
  V4l2DeviceInfo,
} from './types.ts';
export type { ClipResult, CropTensor, MotionResult, NativeMotionOptions as MotionOptions };

export interface OpenedStreamInfo extends NativeStreamInfo {
  /** Which decoder runs: vaapi or none (software). */
  hwaccel: string;
  /** Why hardware decoding is not used, when it was asked for or auto found no device. */
  hwaccelError: string | null;
}

// Native errors arrive as plain Errors with a code; rethrow as MediaError with the caller's stack.
function wrap(err: unknown): MediaError {
  if (err instanceof MediaError) return err;
  const e = err as { code?: string; message?: string };
  return new MediaError((e?.code as ErrorCode) ?? 'MEDIA_ERROR', e?.message ?? String(err));
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
    const { index = -1, width = 0, quality = 85 } = options;
    if (!Number.isInteger(index))
      throw new MediaError('INVALID_ARGUMENT', `Expected integer for index but received ${index}`);
    if (!Number.isInteger(width) || width < 0 || width > 8192)
      throw new MediaError('INVALID_ARGUMENT', `Expected integer between 0 and 8192 for width but received ${width}`);
    if (!Number.isInteger(quality) || quality < 1 || quality > 100)
      throw new MediaError(
        'INVALID_ARGUMENT',
        `Expected integer between 1 and 100 for quality but received ${quality}`,
      );
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
    const { x, y, width, height } = region;
    if (![x, y, width, height].every((v) => Number.isInteger(v) && v >= 0) || width < 2 || height < 2)
      throw new MediaError(
        'INVALID_ARGUMENT',
        `Expected a region of non-negative integers at least 2x2 but received ${JSON.stringify(region)}`,
      );
    try {
      return await this.handle.cropTensor(index, x, y, width, height);
    } catch (err) {
      throw wrap(err);
    }
  }

  stats(): NativeStats {
    return this.handle.stats();
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
  if (!/^\/[\w./-]+$/.test(path) || path.split('/').includes('..'))
    throw new MediaError(
      'INVALID_ARGUMENT',
      `Expected a device path such as /dev/video0 but received ${JSON.stringify(path)}`,
    );
  try {
    return await loadAddon().v4l2Query(path);
  } catch (err) {
    throw wrap(err);
  }
}

/** Motion detection on grey planes (C++): running-average background, contrast stretch, regions, masks. */
export class MotionDetector {
  private readonly native: NativeMotionDetector;
  constructor(options: NativeMotionOptions = {}) {
    this.native = new (loadAddon().MotionDetector)(options);
  }
  detect(plane: { data: Uint8Array; width: number; height: number }): MotionResult {
    return this.native.detect(plane.data, plane.width, plane.height);
  }
  configure(options: NativeMotionOptions): void {
    this.native.configure(options);
  }
}

/** One MP4 from [start, end] seconds of consecutive segment files, by stream copy from the keyframe at or before start. */
export async function exportClip(options: {
  inputs: string[];
  start: number;
  end: number;
  output: string;
}): Promise<ClipResult> {
  const { inputs, start, end, output } = options;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((p) => typeof p === 'string' && p.startsWith('/')))
    throw new MediaError('INVALID_ARGUMENT', 'Expected a non-empty list of absolute segment paths for inputs');
  if (!(Number.isFinite(start) && Number.isFinite(end) && start >= 0 && end > start))
    throw new MediaError('INVALID_ARGUMENT', `Expected 0 <= start < end but received ${start}..${end}`);
  if (typeof output !== 'string' || !output.startsWith('/'))
    throw new MediaError('INVALID_ARGUMENT', 'Expected an absolute path for output');
  try {
    return await loadAddon().exportClip({ inputs, start, end, output });
  } catch (err) {
    throw wrap(err);
  }
}

export function libavVersions(): Record<string, string> {
  return loadAddon().versions;
}

export function sourceLabel(source: string): string {
  return classifySource(source).label;
}
