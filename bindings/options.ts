// Validates every argument of every native call, with messages that name the field, and fills in every default:
// the addon takes what comes out of here as complete and has no defaults of its own.
import { invalidArgument as invalid } from './errors.ts';
import { addSecret, redactUrl } from './redact.ts';
import type {
  MotionOptions,
  NativeMotionOptions,
  NativeSourceOptions,
  NativeTensorOptions,
  RecorderEvent,
} from './types.ts';

export type SourceKind = 'file' | 'rtsp' | 'v4l2';

// A control character or a leading dash would let a "URL" act as something else; refuse both.
const CONTROL = /[\u0000-\u001f\u007f]/;

export function classifySource(source: unknown): { kind: SourceKind; url: string; label: string } {
  if (typeof source !== 'string' || source.length === 0)
    throw invalid(
      `Expected a file path, rtsp(s):// URL or /dev/video* device for source but received ${describe(source)}`,
    );
  if (CONTROL.test(source)) throw invalid('Source must not contain control characters');
  if (source.startsWith('-')) throw invalid(`Source must not start with "-" (received ${redactUrl(source)})`);
  const label = redactUrl(source);
  if (/^rtsps?:\/\//i.test(source)) {
    // The password is censored wherever FFmpeg or anything else might print it in this process from now on.
    try {
      addSecret(decodeURIComponent(new URL(source).password));
    } catch {
      // not a URL the WHATWG parser reads; FFmpeg will say so
    }
    return { kind: 'rtsp', url: source, label };
  }
  if (/^\/dev\/video\d+$/.test(source)) return { kind: 'v4l2', url: source, label };
  if (/^[a-z][a-z0-9+.-]*:/i.test(source) && !/^[a-z]:[\\/]/i.test(source))
    throw invalid(`Unsupported source scheme in ${label}: expected a file path, rtsp://, rtsps:// or /dev/videoN`);
  return { kind: 'file', url: source, label };
}

/**
 * What FFmpeg may open for each kind of source: its protocol_whitelist and format_whitelist on avformat_open_input.
 * A network camera gets RTSP's own transports only (TCP and UDP, RTP/SRTP, TLS for rtsps) and the rtsp demuxer; a
 * file gets local files in the containers cameras and the shared media use; a V4L2 device its own demuxer. So no
 * value can make the demuxer open anything else: no hls or concat playlist reading other files, no http from a
 * file, no file from a camera. (Verified with ffprobe 5.1 against the GStreamer test server and the shared media;
 * native/input.cc sets them on avformat_open_input: see docs/security.md.)
 */
export const inputWhitelists: Readonly<Record<SourceKind, { protocols: string; formats: string }>> = {
  rtsp: { protocols: 'rtp,srtp,tcp,tls,udp', formats: 'rtsp' },
  file: {
    protocols: 'file',
    formats: 'mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,flv,h264,hevc,mjpeg,image2,jpeg_pipe,png_pipe',
  },
  v4l2: { protocols: 'file', formats: 'video4linux2,v4l2' },
};

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return typeof v;
}

function positiveInt(name: string, v: unknown, def: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
    throw invalid(`Expected integer between 1 and ${max} for ${name} but received ${describe(v)}`);
  return v;
}

function nonNegativeInt(name: string, v: unknown, def: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
    throw invalid(`Expected integer between 0 and ${max} for ${name} but received ${describe(v)}`);
  return v;
}

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[], def: T): T {
  if (v === undefined) return def;
  if (typeof v !== 'string' || !allowed.includes(v as T))
    throw invalid(`Expected one of ${allowed.join(', ')} for ${name} but received ${describe(v)}`);
  return v as T;
}

function bool(name: string, v: unknown, def: boolean): boolean {
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw invalid(`Expected true or false for ${name} but received ${describe(v)}`);
  return v;
}

function triple(name: string, v: unknown, def: [number, number, number]): [number, number, number] {
  if (v === undefined) return def;
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x)))
    throw invalid(`Expected an array of 3 finite numbers for ${name} but received ${describe(v)}`);
  return [v[0], v[1], v[2]];
}

export interface TensorOptions {
  size: number;
  resize?: 'letterbox' | 'stretch';
  pad?: number;
  channels?: 'bgr' | 'rgb';
  layout?: 'nchw-float32' | 'nhwc-uint8';
  mean?: [number, number, number];
  std?: [number, number, number];
}

/** Tensor layouts the shipped models expect (see ../shared/models/README.md). */
export const tensorPresets = {
  yolox: { size: 416, resize: 'letterbox', pad: 114, channels: 'bgr', layout: 'nchw-float32' },
  nanodet: {
    size: 320,
    resize: 'stretch',
    channels: 'bgr',
    layout: 'nchw-float32',
    mean: [103.53, 116.28, 123.675],
    std: [57.375, 57.12, 58.395],
  },
} as const satisfies Record<string, TensorOptions>;

export function validateTensor(t: unknown): NativeTensorOptions {
  if (typeof t !== 'object' || t === null) throw invalid(`Expected an object for tensor but received ${describe(t)}`);
  const o = t as Record<string, unknown>;
  const std = triple('tensor.std', o.std, [1, 1, 1]);
  if (std.some((s) => s === 0)) throw invalid('tensor.std must not contain 0');
  return {
    size: positiveInt('tensor.size', o.size, 416, 4096),
    resize: oneOf('tensor.resize', o.resize, ['letterbox', 'stretch'] as const, 'letterbox'),
    pad: nonNegativeInt('tensor.pad', o.pad, 114, 255),
    channels: oneOf('tensor.channels', o.channels, ['bgr', 'rgb'] as const, 'bgr'),
    layout: oneOf('tensor.layout', o.layout, ['nchw-float32', 'nhwc-uint8'] as const, 'nchw-float32'),
    mean: triple('tensor.mean', o.mean, [0, 0, 0]),
    std,
  };
}

export interface SourceOptions {
  /** RTSP transport; TCP survives lossy Wi-Fi better and is the default. */
  transport?: 'tcp' | 'udp';
  connectTimeoutMs?: number;
  readTimeoutMs?: number;
  hwaccel?: 'auto' | 'vaapi' | 'none';
  vaapiDevice?: string;
  /** Decoder threads; 0 lets FFmpeg choose. */
  threads?: number;
  /** Frames per second handed to JS, chosen by presentation time; 0 = every frame. */
  fps?: number;
  /** Width of the grey motion plane; 0 = none. */
  motionWidth?: number;
  tensor?: TensorOptions;
  /** drop: keep only the newest sampled frame when JS is behind (live default); wait: never lose one (file default). */
  backpressure?: 'drop' | 'wait';
  queueSize?: number;
  /** Play a file at its own frame rate, like a camera. */
  realtime?: boolean;
  /** Restart a file at its end with continuous timestamps. */
  loop?: boolean;
  /** How many recent sampled frames stay available for snapshot(). */
  snapshotFrames?: number;
  v4l2?: { videoSize?: string; frameRate?: string; inputFormat?: string };
  /** false: record only, no decoding (a main stream whose sub stream is analysed). */
  decode?: boolean;
  /** Stream-copy the video into fragmented MP4 segments under dir/<date>/<hour>/. */
  record?: { dir: string; camera: string; segmentSeconds?: number };
  /** Called on the JS thread for every finished segment and when recording pauses or resumes. */
  onRecord?: (event: RecorderEvent) => void;
}

export function validateSourceOptions(source: unknown, options: SourceOptions = {}): NativeSourceOptions {
  const { kind, url, label } = classifySource(source);
  if (typeof options !== 'object' || options === null)
    throw invalid(`Expected an object for options but received ${describe(options)}`);
  const fps = options.fps ?? 0;
  if (typeof fps !== 'number' || !Number.isFinite(fps) || fps < 0 || fps > 240)
    throw invalid(`Expected a number between 0 and 240 for fps but received ${describe(fps)}`);
  const live = kind !== 'file';
  const backpressure = oneOf('backpressure', options.backpressure, ['drop', 'wait'] as const, live ? 'drop' : 'wait');
  const v4l2 = options.v4l2 ?? {};
  if (typeof v4l2 !== 'object' || v4l2 === null)
    throw invalid(`Expected an object for v4l2 but received ${describe(v4l2)}`);
  for (const [k, v] of Object.entries(v4l2))
    if (v !== undefined && (typeof v !== 'string' || !/^[\w.:/-]{1,32}$/.test(v)))
      throw invalid(`Expected a short word for v4l2.${k} but received ${describe(v)}`);
  const vaapiDevice = options.vaapiDevice;
  if (vaapiDevice !== undefined && !/^\/dev\/dri\/renderD\d+$/.test(vaapiDevice))
    throw invalid(`Expected /dev/dri/renderDN for vaapiDevice but received ${describe(vaapiDevice)}`);
  let record: NativeSourceOptions['record'];
  if (options.record !== undefined) {
    const r = options.record;
    if (typeof r?.dir !== 'string' || !r.dir.startsWith('/'))
      throw invalid(`Expected an absolute directory for record.dir but received ${describe(r?.dir)}`);
    if (typeof r.camera !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(r.camera))
      throw invalid(
        `Expected a camera id (lowercase letters, digits, dashes) for record.camera but received ${describe(r.camera)}`,
      );
    const seconds = r.segmentSeconds ?? 10;
    if (typeof seconds !== 'number' || !(seconds >= 1 && seconds <= 600))
      throw invalid(`Expected a number between 1 and 600 for record.segmentSeconds but received ${describe(seconds)}`);
    record = { dir: r.dir, camera: r.camera, segmentSeconds: seconds };
  }
  if (options.onRecord !== undefined && typeof options.onRecord !== 'function')
    throw invalid('Expected a function for onRecord');
  return {
    url,
    label,
    decode: bool('decode', options.decode, true),
    ...(record ? { record } : {}),
    ...(options.onRecord ? { onRecord: options.onRecord } : {}),
    transport: oneOf('transport', options.transport, ['tcp', 'udp'] as const, 'tcp'),
    connectTimeoutMs: positiveInt('connectTimeoutMs', options.connectTimeoutMs, 10_000, 600_000),
    readTimeoutMs: positiveInt('readTimeoutMs', options.readTimeoutMs, 10_000, 600_000),
    protocolWhitelist: inputWhitelists[kind].protocols,
    formatWhitelist: inputWhitelists[kind].formats,
    hwaccel: oneOf('hwaccel', options.hwaccel, ['auto', 'vaapi', 'none'] as const, 'auto'),
    ...(vaapiDevice ? { vaapiDevice } : {}),
    threads: nonNegativeInt('threads', options.threads, 0, 64),
    sampleFps: fps,
    motionWidth: nonNegativeInt('motionWidth', options.motionWidth, 0, 4096),
    ...(options.tensor !== undefined ? { tensor: validateTensor(options.tensor) } : {}),
    backpressure,
    queueSize: positiveInt('queueSize', options.queueSize, backpressure === 'drop' ? 1 : 4, 64),
    realtime: bool('realtime', options.realtime, false),
    loop: bool('loop', options.loop, false),
    snapshotFrames: nonNegativeInt('snapshotFrames', options.snapshotFrames, 4, 64),
    ...(v4l2.videoSize ? { videoSize: v4l2.videoSize } : {}),
    ...(v4l2.frameRate ? { frameRate: v4l2.frameRate } : {}),
    ...(v4l2.inputFormat ? { inputFormat: v4l2.inputFormat } : {}),
  };
}

/** The defaults of MotionOptions (Frigate-like: threshold 30 of 255, 0.05 % minimum area, 2 % learning rate). */
export const motionDefaults: NativeMotionOptions = {
  threshold: 30,
  minArea: 0.0005,
  alpha: 0.02,
  recalibrateFraction: 0.6,
  dilate: 2,
  mask: [],
};

function numberIn(name: string, v: unknown, def: number, min: number, max: number, minExclusive = false): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || (minExclusive ? v <= min : v < min) || v > max)
    throw invalid(
      `Expected a number ${minExclusive ? 'above' : 'between'} ${min} ${minExclusive ? 'and at most' : 'and'} ${max} for ${name} but received ${describe(v)}`,
    );
  return v;
}

function integerIn(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw invalid(`Expected integer between ${min} and ${max} for ${name} but received ${describe(v)}`);
  return v;
}

function polygons(name: string, v: unknown): [number, number][][] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw invalid(`Expected an array of polygons for ${name} but received ${describe(v)}`);
  return v.map((poly, i) => {
    if (!Array.isArray(poly) || poly.length < 3)
      throw invalid(`Expected a polygon of 3 or more [x, y] points for ${name}[${i}] but received ${describe(poly)}`);
    return poly.map((p, j): [number, number] => {
      const ok =
        Array.isArray(p) &&
        p.length === 2 &&
        p.every((c) => typeof c === 'number' && Number.isFinite(c) && c >= 0 && c <= 1);
      if (!ok)
        throw invalid(
          `Expected an [x, y] point in 0-1 frame coordinates for ${name}[${i}][${j}] but received ${Array.isArray(p) ? JSON.stringify(p) : describe(p)}`,
        );
      return [p[0], p[1]];
    });
  });
}

/** MotionDetector options: each field checked, every default filled in (unknown keys such as `enabled` ignored). */
export function validateMotionOptions(options: MotionOptions = {}): NativeMotionOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw invalid(`Expected an object for motion options but received ${describe(options)}`);
  const d = motionDefaults;
  return {
    threshold: options.threshold === undefined ? d.threshold : integerIn('threshold', options.threshold, 1, 255),
    minArea: numberIn('minArea', options.minArea, d.minArea, 0, 1),
    alpha: numberIn('alpha', options.alpha, d.alpha, 0, 1, true),
    recalibrateFraction: numberIn(
      'recalibrateFraction',
      options.recalibrateFraction,
      d.recalibrateFraction,
      0,
      1,
      true,
    ),
    dilate: options.dilate === undefined ? d.dilate : integerIn('dilate', options.dilate, 0, 16),
    mask: polygons('mask', options.mask),
  };
}

/** A grey plane for MotionDetector.detect: a Uint8Array of at least width x height bytes. */
export function validateMotionPlane(plane: unknown): { data: Uint8Array; width: number; height: number } {
  if (typeof plane !== 'object' || plane === null)
    throw invalid(`Expected a { data, width, height } plane but received ${describe(plane)}`);
  const { data, width, height } = plane as Record<string, unknown>;
  if (!(data instanceof Uint8Array))
    throw invalid(`Expected a Uint8Array for plane.data but received ${describe(data)}`);
  integerIn('plane.width', width, 1, 4096);
  integerIn('plane.height', height, 1, 4096);
  const w = width as number;
  const h = height as number;
  if (data.length < w * h)
    throw invalid(`plane.data holds ${data.length} bytes, fewer than plane.width x plane.height (${w}x${h})`);
  return { data, width: w, height: h };
}

/** snapshot(): index of a recent sampled frame (negative: the newest), width 0-8192 (0: full size), quality 1-100. */
export function validateSnapshot(options: { index?: number; width?: number; quality?: number }): {
  index: number;
  width: number;
  quality: number;
} {
  if (typeof options !== 'object' || options === null)
    throw invalid(`Expected an object for snapshot options but received ${describe(options)}`);
  const { index = -1, width = 0, quality = 85 } = options;
  if (!Number.isInteger(index)) throw invalid(`Expected integer for index but received ${describe(index)}`);
  return { index, width: integerIn('width', width, 0, 8192), quality: integerIn('quality', quality, 1, 100) };
}

/** Largest crop coordinate accepted (the addon clamps the region to the frame). */
export const MAX_CROP_COORDINATE = 65_535;

/** cropTensor(): a sampled frame's index and a region of at least 2x2 pixels in frame coordinates. */
export function validateCropRegion(
  index: unknown,
  region: unknown,
): { index: number; x: number; y: number; width: number; height: number } {
  const i = integerIn('index', index, 0, Number.MAX_SAFE_INTEGER);
  if (typeof region !== 'object' || region === null)
    throw invalid(`Expected an object { x, y, width, height } for region but received ${describe(region)}`);
  const r = region as Record<string, unknown>;
  return {
    index: i,
    x: integerIn('region.x', r.x, 0, MAX_CROP_COORDINATE),
    y: integerIn('region.y', r.y, 0, MAX_CROP_COORDINATE),
    width: integerIn('region.width', r.width, 2, MAX_CROP_COORDINATE),
    height: integerIn('region.height', r.height, 2, MAX_CROP_COORDINATE),
  };
}

/** exportClip(): absolute segment paths, 0 <= start < end seconds, an absolute output path. */
export function validateClipOptions(options: unknown): {
  inputs: string[];
  start: number;
  end: number;
  output: string;
} {
  if (typeof options !== 'object' || options === null)
    throw invalid(`Expected an object for clip options but received ${describe(options)}`);
  const { inputs, start, end, output } = options as Record<string, unknown>;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((p) => typeof p === 'string' && p.startsWith('/')))
    throw invalid('Expected a non-empty list of absolute segment paths for inputs');
  if (!(typeof start === 'number' && typeof end === 'number'))
    throw invalid(`Expected numbers for start and end but received ${describe(start)}..${describe(end)}`);
  if (!(Number.isFinite(start) && Number.isFinite(end) && start >= 0 && end > start))
    throw invalid(`Expected 0 <= start < end but received ${start}..${end}`);
  if (typeof output !== 'string' || !output.startsWith('/')) throw invalid('Expected an absolute path for output');
  return { inputs: inputs as string[], start, end, output };
}

/** queryV4l2(): a device path such as /dev/video0. */
export function validateDevicePath(path: unknown): string {
  if (typeof path !== 'string' || !/^\/[\w./-]+$/.test(path) || path.split('/').includes('..'))
    throw invalid(`Expected a device path such as /dev/video0 but received ${JSON.stringify(path)}`);
  return path;
}
