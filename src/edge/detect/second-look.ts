// A second, closer look at an event's object before it alerts: the same frame (still in the snapshot ring), cropped
// square around the event's box so the object fills the model's input (about 1.6× its size, so a person 60 px tall in
// a 768-px frame is seen at ~250 px instead of ~50), and run through the detector again. It runs on the edge, where
// the clear frame is: the owner's server never sees one, so it cannot be the one to look (docs/architecture.md).
// A detection of the same kind overlapping the box confirms; none is a false positive.
import type { MediaSource } from '../../../bindings/index.ts';
import { type DecodeOptions, decode, type ModelSpec } from './models.ts';
import { iou } from './nms.ts';
import { labelGroup } from './tracker.ts';
import type { Box, InferenceBackend } from './types.ts';

export interface SecondOpinion {
  verdict: 'confirmed' | 'false_positive';
  /** The best score of the same kind over the box in the closer look (0: none). */
  score: number;
  /** How long the look took (crop, inference, decoding). */
  ms: number;
}

export interface SecondLookOptions {
  /** Score a detection of the closer look needs to confirm. */
  confirmScore: number;
  /** Overlap with the event's box it needs. */
  minIou: number;
}

/** People and vehicles get the second look; tamper and unusual activity are not objects a detector can re-check. */
export function secondLookApplies(label: string): boolean {
  const group = labelGroup(label);
  return group === 'person' || group === 'vehicle';
}

export const defaultSecondLook: SecondLookOptions = { confirmScore: 0.35, minIou: 0.3 };

/** The square region around a box: 1.6× its long side, at least a quarter of the short side, inside the frame. */
export function lookRegion(box: Box, width: number, height: number) {
  const side = Math.round(
    Math.min(
      Math.min(width, height),
      Math.max(1.6 * Math.max(box[2] - box[0], box[3] - box[1]), Math.min(width, height) / 4),
    ),
  );
  const cx = (box[0] + box[2]) / 2;
  const cy = (box[1] + box[3]) / 2;
  return {
    x: Math.round(Math.min(Math.max(cx - side / 2, 0), width - side)),
    y: Math.round(Math.min(Math.max(cy - side / 2, 0), height - side)),
    width: side,
    height: side,
  };
}

export async function secondLook(
  source: Pick<MediaSource, 'cropTensor'>,
  frame: { index: number; width: number; height: number },
  subject: { box: Box; label: string },
  model: { spec: ModelSpec; backend: InferenceBackend; decode: DecodeOptions },
  options: SecondLookOptions = defaultSecondLook,
): Promise<SecondOpinion> {
  const t0 = performance.now();
  const crop = await source.cropTensor(frame.index, lookRegion(subject.box, frame.width, frame.height));
  const outputs = await model.backend.run(crop.data as Float32Array, model.spec.size);
  const dets = decode(
    outputs,
    model.spec,
    {
      offsetX: crop.offsetX,
      offsetY: crop.offsetY,
      scaleX: crop.scaleX,
      scaleY: crop.scaleY,
      frameWidth: frame.width,
      frameHeight: frame.height,
    },
    model.decode,
  );
  const group = labelGroup(subject.label);
  const score = Math.max(
    0,
    ...dets
      .filter((d) => labelGroup(d.label) === group && iou(d.box, subject.box) >= options.minIou)
      .map((d) => d.score),
  );
  return {
    verdict: score >= options.confirmScore ? 'confirmed' : 'false_positive',
    score: Math.round(score * 1000) / 1000,
    ms: Math.round((performance.now() - t0) * 10) / 10,
  };
}
