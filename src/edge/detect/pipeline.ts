// Per-camera detection: motion gating, full frame or a square crop around motion, inference, decoding, class
// filters, object masks, tracking and zones. Object detection runs only when something moves or is tracked.
import { type Frame, type MediaSource, MotionDetector, type MotionOptions } from '../../../bindings/index.ts';
import { configDefaults } from '../../shared/config.ts';
import { IdleDecode, type IdleDecodeOptions } from './idle-decode.ts';
import { type DecodeOptions, decode, type ModelSpec } from './models.ts';
import { iou } from './nms.ts';
import { defaultTrackerOptions, labelGroup, type TrackedDetection, Tracker, type TrackerOptions } from './tracker.ts';
import type { Box, Detection, InferenceBackend, TensorGeometry } from './types.ts';
import { masked, type Point, type Zone, zonesOf } from './zones.ts';

export interface ClassFilter {
  /** Detections below this score are ignored for this class. */
  minScore: number;
}

export interface PipelineOptions {
  /** Enabled classes and their minimum scores; others are ignored. */
  classes: Record<string, ClassFilter>;
  /** IoU above which boxes of one class are duplicates. */
  nmsIou: number;
  motion: (MotionOptions & { enabled: boolean }) | { enabled: false };
  zones: Zone[];
  objectMasks: Point[][];
  /** auto: crop around motion when that gives the model more pixels of the moving thing; full: always the whole frame. */
  crop: 'auto' | 'full';
  /** Stationary objects are re-detected this often even without motion, to notice when they leave. */
  stationaryRecheckSeconds: number;
  tracker: TrackerOptions;
  /** Decode keyframes only after this long without motion or a moving track (needs motion gating). */
  idleDecode: IdleDecodeOptions;
}

export const defaultPipelineOptions: PipelineOptions = {
  classes: configDefaults().detection.classes, // the configuration schema holds the defaults
  nmsIou: 0.45,
  motion: { enabled: true },
  zones: [],
  objectMasks: [],
  crop: 'auto',
  stationaryRecheckSeconds: 10,
  tracker: defaultTrackerOptions,
  idleDecode: { enabled: false, afterSeconds: 30 },
};

export interface PipelineDetection extends TrackedDetection {
  zones: string[];
}

export interface FrameResult {
  frame: number;
  pts: number;
  motion: boolean;
  motionBoxes: Box[];
  calibrating: boolean;
  /** Whether the model ran on this frame (motion gating may skip it). */
  detected: boolean;
  region: 'full' | 'crop' | null;
  detections: PipelineDetection[];
  /** Whether the source was asked to decode keyframes only after this frame (an idle camera). */
  keyframesOnly: boolean;
  timings: { convertMs: number; tensorMs: number; motionMs: number; inferenceMs: number; postMs: number };
}

// Confusable vehicle classes on one object: keep the most confident (per-class NMS keeps both).
function mergeVehicles(dets: Detection[]): Detection[] {
  const kept: Detection[] = [];
  for (const d of [...dets].sort((a, b) => b.score - a.score)) {
    const group = labelGroup(d.label);
    if (group === 'vehicle' && kept.some((k) => labelGroup(k.label) === group && iou(k.box, d.box) > 0.7)) continue;
    kept.push(d);
  }
  return kept;
}

export class DetectionPipeline {
  readonly tracker: Tracker;
  readonly idleDecode: IdleDecode;
  private readonly motion: MotionDetector | undefined;
  private lastDetectPts = Number.NEGATIVE_INFINITY;

  constructor(
    readonly model: ModelSpec,
    readonly backend: InferenceBackend,
    readonly options: PipelineOptions = defaultPipelineOptions,
  ) {
    this.tracker = new Tracker(options.tracker);
    this.motion = options.motion.enabled ? new MotionDetector(options.motion) : undefined;
    // Without motion gating nothing says the scene is idle.
    this.idleDecode = new IdleDecode({ ...options.idleDecode, enabled: options.idleDecode.enabled && !!this.motion });
  }

  /** Decode threshold: the lowest per-class minimum, so filtering can be done per class afterwards. */
  private decodeOptions(): DecodeOptions {
    const mins = Object.values(this.options.classes).map((c) => c.minScore);
    return { minScore: Math.max(0.05, Math.min(0.5, ...mins)), iou: this.options.nmsIou };
  }

  async process(frame: Frame, source?: MediaSource): Promise<FrameResult> {
    const r = await this.analyse(frame, source);
    const active = r.motion || r.calibrating || this.tracker.moving().length > 0;
    r.keyframesOnly = this.idleDecode.update(active, frame.pts, source);
    return r;
  }

  private async analyse(frame: Frame, source?: MediaSource): Promise<FrameResult> {
    const o = this.options;
    const W = frame.width;
    const H = frame.height;
    const t0 = performance.now();
    let motionBoxes: Box[] = [];
    let calibrating = false;
    if (this.motion && frame.motion) {
      const m = this.motion.detect(frame.motion);
      calibrating = m.calibrating;
      motionBoxes = m.boxes.map((b) => [b[0] * W, b[1] * H, b[2] * W, b[3] * H] as Box);
    }
    const motionMs = performance.now() - t0;
    const result: FrameResult = {
      frame: frame.index,
      pts: frame.pts,
      motion: motionBoxes.length > 0,
      motionBoxes,
      calibrating,
      detected: false,
      region: null,
      detections: [],
      keyframesOnly: false,
      timings: { convertMs: frame.convertMs, tensorMs: frame.tensorMs, motionMs, inferenceMs: 0, postMs: 0 },
    };

    const moving = this.tracker.moving();
    const hasStationary = this.tracker.tracks().length > moving.length;
    const recheck = hasStationary && frame.pts - this.lastDetectPts >= o.stationaryRecheckSeconds;
    const gate = !this.motion || motionBoxes.length > 0 || moving.length > 0 || recheck;
    if (!gate || calibrating || !frame.tensor) return result;
    this.lastDetectPts = frame.pts;

    // Where to look: the whole frame, or a square around what moves when that is much smaller than the frame.
    let tensor: Float32Array = frame.tensor.data as Float32Array;
    let geometry: TensorGeometry = {
      offsetX: 0,
      offsetY: 0,
      scaleX: frame.tensor.scaleX,
      scaleY: frame.tensor.scaleY,
      frameWidth: W,
      frameHeight: H,
    };
    result.region = 'full';
    const interest = [...motionBoxes, ...moving.map((t) => this.tracker.predict(t, frame.pts))];
    if (o.crop === 'auto' && source && interest.length && !recheck && this.model.tensor.resize === 'letterbox') {
      const x1 = Math.min(...interest.map((b) => b[0]));
      const y1 = Math.min(...interest.map((b) => b[1]));
      const x2 = Math.max(...interest.map((b) => b[2]));
      const y2 = Math.max(...interest.map((b) => b[3]));
      const side = Math.max(this.model.size, (x2 - x1) * 1.3, (y2 - y1) * 1.3);
      // Worth it only if the crop is at most ~60 % of the frame's short side (more model pixels per object).
      if (side <= 0.6 * Math.min(W, H)) {
        const cx = (x1 + x2) / 2;
        const cy = (y1 + y2) / 2;
        const sx = Math.round(Math.min(Math.max(cx - side / 2, 0), W - side));
        const sy = Math.round(Math.min(Math.max(cy - side / 2, 0), H - side));
        try {
          const crop = await source.cropTensor(frame.index, {
            x: sx,
            y: sy,
            width: Math.round(side),
            height: Math.round(side),
          });
          tensor = crop.data as Float32Array;
          geometry = {
            offsetX: crop.offsetX,
            offsetY: crop.offsetY,
            scaleX: crop.scaleX,
            scaleY: crop.scaleY,
            frameWidth: W,
            frameHeight: H,
          };
          result.region = 'crop';
        } catch {
          // The frame left the snapshot ring: the full-frame tensor is still valid.
        }
      }
    }

    const t1 = performance.now();
    const outputs = await this.backend.run(tensor, this.model.size);
    const t2 = performance.now();
    let dets = decode(outputs, this.model, geometry, this.decodeOptions());
    dets = dets.filter((d) => {
      const filter = o.classes[d.label];
      if (!filter || d.score < filter.minScore) return false;
      return !masked(d.box, o.objectMasks, W, H);
    });
    dets = mergeVehicles(dets);
    const tracked = this.tracker.update(dets, frame.pts);
    result.detected = true;
    result.detections = tracked.map((d) => ({ ...d, zones: zonesOf(d.box, o.zones, W, H) }));
    result.timings.inferenceMs = t2 - t1;
    result.timings.postMs = performance.now() - t2;
    return result;
  }
}
