// Frames of a clip as the camera's live scoring sees them: decoded to the detector's tensor, run through the same
// detection pipeline (motion gating, crops, class filters, tracker) the media process runs, and resampled to the
// backbone's tensor from the detector's, as live scoring does (live.ts). Without a detector (object cues off, or a
// version 1 model) frames are decoded straight to the backbone's tensor.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import type { Frame, MediaSource, TensorOptions } from '../../../bindings/index.ts';
import { configDefaults } from '../../shared/config.ts';
import { createBackend } from '../detect/backend.ts';
import { resolveModel } from '../detect/models.ts';
import { DetectionPipeline, defaultPipelineOptions } from '../detect/pipeline.ts';
import type { InferenceBackend } from '../detect/types.ts';
import { type ClipInfo, clipFrames } from './dataset.ts';
import { backbonePreset } from './features.ts';
import { resampleTensor } from './live.ts';
import type { ObjectNorms, ObjectObservation } from './objects.ts';
import { observationsOf } from './objects.ts';

export interface DetectorChoice {
  /** yolox, nanodet, or a path (as detection.model). */
  model: string;
  classes: Record<string, { minScore: number }>;
  threads?: number;
}

export const defaultDetectorChoice = (): DetectorChoice => ({
  model: configDefaults().detection.model,
  classes: configDefaults().detection.classes,
});

/** The stored detector (a detection.model value: yolox, nanodet or a path) as a file; its sha256 says it is the same. */
export const detectorPath = (model: string) => resolveModel(model).path;

export const fileSha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

export interface AnalysedFrame {
  /** The frame, its tensor the backbone's. */
  frame: Frame;
  objects: ObjectObservation[];
}

export class ClipAnalyser {
  private constructor(
    private readonly detector: {
      spec: ReturnType<typeof resolveModel>;
      backend: InferenceBackend;
      info: ObjectNorms['detector'];
    } | null,
  ) {}

  static async create(choice: DetectorChoice | null): Promise<ClipAnalyser> {
    if (!choice) return new ClipAnalyser(null);
    const spec = resolveModel(choice.model);
    const { backend } = await createBackend({
      backend: 'onnxruntime',
      modelPath: spec.path,
      threads: choice.threads ?? 1,
    });
    return new ClipAnalyser({
      spec,
      backend,
      info: { model: choice.model, sha256: fileSha256(spec.path), classes: choice.classes },
    });
  }

  /** The detector the tracks come from (null: none). */
  get detectorInfo(): ObjectNorms['detector'] | null {
    return this.detector?.info ?? null;
  }

  async *frames(clip: ClipInfo, fps: number): AsyncGenerator<AnalysedFrame> {
    const d = this.detector;
    if (!d) {
      for await (const frame of clipFrames(clip, fps, backbonePreset)) yield { frame, objects: [] };
      return;
    }
    const pipeline = new DetectionPipeline(d.spec, d.backend, { ...defaultPipelineOptions, classes: d.info.classes });
    const tensor: TensorOptions = d.spec.tensor;
    let source: MediaSource | undefined;
    const buffer = new Float32Array(3 * backbonePreset.size * backbonePreset.size);
    for await (const frame of clipFrames(clip, fps, tensor, (s) => {
      source = s;
    })) {
      await pipeline.process(frame, source);
      const objects = observationsOf(pipeline.tracker.tracks(), frame.pts);
      const t = frame.tensor && resampleTensor(frame.tensor, tensor, backbonePreset, buffer);
      if (!t || !frame.tensor) continue;
      yield { frame: { ...frame, tensor: { ...frame.tensor, data: t } }, objects };
    }
  }

  async close(): Promise<void> {
    await this.detector?.backend.close();
  }
}
