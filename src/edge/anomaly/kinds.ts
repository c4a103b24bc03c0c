// The kinds of per-camera anomaly model behind one interface: `knn-patch` (model.ts: fitted on the edge from the
// camera's own recordings) and `cae` (cae.ts: the convolutional autoencoder trained by the owner's server, or by
// `guardian train cae`). Evaluation, live scoring and the model catalog load a model dir through `loadAnomalyModel`,
// which reads model.json's kind.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Frame, TensorOptions } from '../../../bindings/index.ts';
import { GuardianError } from '../../shared/errors.ts';
import { CAE_KIND, CAE_VERSION, CaeModel } from './cae.ts';
import { AnomalyModel, type FrameScore, MODEL_FILE, MODEL_KIND, READABLE_VERSIONS } from './model.ts';
import type { ObjectNorms, ObjectObservation } from './objects.ts';

export interface Scorer {
  /** A frame that is not scored (its motion plane may matter to the next one). */
  observe(frame: Pick<Frame, 'motion'>): void;
  /** `objects`: the camera's tracked objects on this frame (models without object cues ignore them). */
  score(frame: Frame, objects?: ObjectObservation[]): Promise<FrameScore>;
}

export interface ScoringModel {
  readonly dir: string;
  readonly file: { kind: string; version: number; created: string; params: { fps: number } };
  /** A smoothed frame score above this is unusual. */
  readonly threshold: number;
  /** The tensor the model reads (frames are decoded to it, or resampled from the detector's). */
  readonly input: TensorOptions;
  /** The detector whose tracks this model's object cues were learned from; null when it has none. */
  readonly objectDetector: ObjectNorms['detector'] | null;
  /** A scorer for one clip or one camera (it keeps that stream's state). */
  scorer(): Scorer;
  close(): Promise<void>;
}

/** Kinds and versions this edge can run: [kind, version]. */
export const ANOMALY_KINDS: ReadonlyArray<readonly [string, number]> = [
  ...READABLE_VERSIONS.map((v) => [MODEL_KIND, v] as const),
  [CAE_KIND, CAE_VERSION],
];

/** model.json's kind and version, or an error naming the dir. */
export function readModelKind(dir: string): { kind: string; version: number } {
  const file = join(dir, MODEL_FILE);
  if (!existsSync(file))
    throw new GuardianError('INVALID_ARGUMENT', `${dir} is not an anomaly model: no ${MODEL_FILE}`);
  let doc: { kind?: unknown; version?: unknown };
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new GuardianError(
      'INVALID_ARGUMENT',
      `${dir} is not an anomaly model: ${MODEL_FILE} is not JSON (${(err as Error).message})`,
    );
  }
  if (!ANOMALY_KINDS.some(([k, v]) => k === doc?.kind && v === doc?.version))
    throw new GuardianError(
      'INVALID_ARGUMENT',
      `${dir} is a model of kind ${JSON.stringify(doc?.kind)} version ${JSON.stringify(doc?.version)}; this edge runs ${ANOMALY_KINDS.map(([k, v]) => `${k} v${v}`).join(', ')}`,
    );
  return { kind: doc.kind as string, version: doc.version as number };
}

export async function loadAnomalyModel(
  dir: string,
  options: { backbonePath?: string; threads?: number } = {},
): Promise<ScoringModel> {
  const { kind } = readModelKind(dir);
  return kind === CAE_KIND ? CaeModel.load(dir, options) : AnomalyModel.load(dir, options);
}
