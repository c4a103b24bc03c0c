// Shapes that cross the native boundary. Validation happens in bindings/options.ts before anything reaches C++:
// the Native* option shapes are complete (every default filled in), because the addon has no defaults of its own.

import type { ErrorCode } from './errors.ts';

export type { ErrorCode } from './errors.ts';

export interface NativeStreamInfo {
  codec: string;
  profile: string;
  pixelFormat: string;
  container: string;
  width: number;
  height: number;
  fps: number;
  timeBase: [number, number];
  durationSeconds: number | null;
  bitRate: number;
  frameCount: number | null;
  live: boolean;
}

export interface ProbeOptions {
  url: string;
  label: string;
  transport: 'tcp' | 'udp';
  connectTimeoutMs: number;
  readTimeoutMs: number;
  /** FFmpeg's protocol_whitelist and format_whitelist for this kind of source (options.ts inputWhitelists). */
  protocolWhitelist: string;
  formatWhitelist: string;
}

export interface NativeTensorOptions {
  size: number;
  resize: 'letterbox' | 'stretch';
  pad: number;
  channels: 'bgr' | 'rgb';
  layout: 'nchw-float32' | 'nhwc-uint8';
  mean: [number, number, number];
  std: [number, number, number];
}

export interface NativeSourceOptions extends ProbeOptions {
  hwaccel: 'auto' | 'vaapi' | 'none';
  vaapiDevice?: string;
  threads: number;
  sampleFps: number;
  motionWidth: number;
  tensor?: NativeTensorOptions;
  backpressure: 'drop' | 'wait';
  queueSize: number;
  realtime: boolean;
  loop: boolean;
  snapshotFrames: number;
  videoSize?: string;
  frameRate?: string;
  inputFormat?: string;
  decode: boolean;
  record?: { dir: string; camera: string; segmentSeconds: number };
  onRecord?: (event: RecorderEvent) => void;
}

/** What the segment recorder reports: a finished segment, or recording paused/resumed (disk full...). */
export interface RecorderEvent {
  type: 'segment' | 'paused' | 'resumed' | 'error';
  path: string;
  startMs?: number;
  endMs?: number;
  durationSeconds?: number;
  bytes?: number;
  frames?: number;
  code?: ErrorCode;
  message?: string;
}

export interface ClipResult {
  durationSeconds: number;
  /** Where the clip really starts (the keyframe at or before the requested start), in seconds of the inputs. */
  startSeconds: number;
  bytes: number;
  frames: number;
  startsOnKeyframe: boolean;
}

export interface NativeFrame {
  index: number;
  pts: number;
  wallClockMs: number;
  keyframe: boolean;
  /** Milliseconds the conversion thread spent on this frame's tensor and motion plane. */
  convertMs: number;
  /** Of convertMs, the model tensor alone (its pre-processing). */
  tensorMs: number;
  width: number;
  height: number;
  counters: { decoded: number; sampled: number; dropped: number };
  tensor?: {
    data: Float32Array | Uint8Array;
    size: number;
    scaleX: number;
    scaleY: number;
    contentWidth: number;
    contentHeight: number;
  };
  motion?: { data: Uint8Array; width: number; height: number };
}

export interface NativeStats {
  state: 'idle' | 'opening' | 'running' | 'ended';
  packets: number;
  videoPackets: number;
  bytes: number;
  decoded: number;
  sampled: number;
  dropped: number;
  decodeErrors: number;
  keyframes: number;
  loops: number;
  /** Video packets not decoded because only keyframes were (they were still recorded). */
  skippedPackets: number;
  /** Whether only keyframes are being decoded now (see MediaSource.setKeyframesOnly). */
  keyframesOnly: boolean;
  queued: number;
  lastPacketWallMs: number | null;
  lastPts: number | null;
  hwaccel: string;
}

export interface V4l2DeviceInfo {
  driver: string;
  card: string;
  busInfo: string;
  capture: boolean;
  streaming: boolean;
  formats: { fourcc: string; description: string; sizes: string[] }[];
}

export interface CropTensor {
  data: Float32Array | Uint8Array;
  size: number;
  scaleX: number;
  scaleY: number;
  contentWidth: number;
  contentHeight: number;
  /** Where the crop starts in the frame (even pixels). */
  offsetX: number;
  offsetY: number;
}

export interface MotionOptions {
  /** Grey-level difference (1-255) that counts as change; default 30. */
  threshold?: number;
  /** Smallest region, as a fraction of the frame (0-1); default 0.0005. */
  minArea?: number;
  /** Background learning rate per frame (0-1, above 0); default 0.02. */
  alpha?: number;
  /** Changed fraction (0-1, above 0) above which the scene is re-learnt instead of reported; default 0.6. */
  recalibrateFraction?: number;
  /** 3x3 dilation passes (0-16); default 2. */
  dilate?: number;
  /** Polygons to ignore, 3 or more [x, y] points each in 0-1 frame coordinates. */
  mask?: [number, number][][];
}

/** MotionOptions as the addon takes them: validated, every default filled in. */
export type NativeMotionOptions = Required<MotionOptions>;

export interface MotionResult {
  /** Regions with motion, [x1, y1, x2, y2] in 0-1 frame coordinates. */
  boxes: [number, number, number, number][];
  /** Changed share of the unmasked frame. */
  fraction: number;
  /** True when a global change (lights, IR switch) made the detector re-learn the scene. */
  calibrating: boolean;
}

export interface NativeMotionDetector {
  detect(plane: Uint8Array, width: number, height: number): MotionResult;
  configure(options: NativeMotionOptions): void;
}

/**
 * The archive format's segment cipher (native/gcm.h): AES-256-GCM contexts keyed once for one object key, sealing or
 * opening many segments per call, each with the nonce prefix || uint32be(index) || last flag and the same AAD.
 */
export interface NativeGcmSegments {
  /** Seals `plain` as segments firstIndex, firstIndex + 1, ... (ciphertext || tag each, end to end) into `out`;
   * the bytes written. Only a batch ending the object (`lastIsFinal`) may end short or be empty. */
  seal(plain: Uint8Array, firstIndex: number, lastIsFinal: boolean, out: Uint8Array): number;
  /** Opens stored segments laid end to end into `out` (their plaintext, end to end): -1 when all authenticated,
   * else the position in this call of the first that failed (its bytes in `out` zeroed, nothing after it written). */
  open(stored: Uint8Array, firstIndex: number, lastIsFinal: boolean, out: Uint8Array): number;
  /** Frees the contexts (wiping their key schedules) now rather than at garbage collection; later calls: CLOSED. */
  dispose(): void;
}

/** Which OpenSSL the segment cipher runs on: Node's own (`node` true), never a second copy in the process. */
export interface NativeGcmInfo {
  openssl: string;
  /** The file defining the EVP functions the addon calls (the name Node was started as, for Node itself). */
  library: string | null;
  node: boolean;
}
