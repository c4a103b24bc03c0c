// The convolutional autoencoder anomaly model (kind `cae`), trained by training/cae_worker.py (PyTorch → ONNX) on a
// camera's normal frames. A model dir holds model.json (kind, version, input layout, threshold, training record) and
// model.onnx, whose graph returns the reconstruction and `cell_errors` [N, G, G]: the squared reconstruction error
// averaged over channels and over each cell. A frame's raw score is its largest cell error (a small unusual thing is
// not diluted by the normal background), the score is the mean of the raw scores of the last `smoothFrames` frames,
// and the threshold is a percentile of held-out normal frames' scores computed by the worker the same way.
import '../detect/backends/ort-privacy.ts';

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import * as ort from 'onnxruntime-node';

import type { Frame, TensorOptions } from '../../../bindings/index.ts';
import { GuardianError } from '../../shared/errors.ts';
import type { Scorer, ScoringModel } from './kinds.ts';
import { type FrameScore, MODEL_FILE, PastMean } from './model.ts';

export const CAE_KIND = 'cae';
export const CAE_VERSION = 1;
export const CAE_ONNX = 'model.onnx';

/** What the CAE reads: RGB in [0, 1], stretched to a square (the media core converts frames to it natively). */
export const caeInput = (size: number) =>
  ({
    size,
    resize: 'stretch',
    channels: 'rgb',
    layout: 'nchw-float32',
    mean: [0, 0, 0],
    std: [255, 255, 255],
  }) as const satisfies TensorOptions;

export interface CaeModelFile {
  kind: typeof CAE_KIND;
  version: typeof CAE_VERSION;
  created: string;
  params: {
    input: { size: number; channels: 'rgb'; mean: [number, number, number]; std: [number, number, number] };
    /** Pixels per side of a cell of `cell_errors`. */
    cell: number;
    latent: number;
    smoothFrames: number;
    thresholdPercentile: number;
    /** Frames per second the training clips were sampled at, and live scoring runs at. */
    fps: number;
  };
  threshold: number;
  onnx: { file: typeof CAE_ONNX; sha256: string; size: number };
  training: {
    dataset: string;
    /** SHA-256 of the decoded training frames, in order: which pixels this model learned from. */
    trainingSetSha256: string;
    frames: number;
    trainFrames: number;
    heldOutFrames: number;
    epochs: number;
    bestEpoch: number;
    valLoss: number;
    seconds: number;
    secondsPerEpoch: number;
    parameters: number;
    history: { epoch: number; loss: number; valLoss: number; seconds: number }[];
  };
}

const bad = (dir: string, why: string) =>
  new GuardianError('INVALID_ARGUMENT', `${dir} is not a CAE anomaly model: ${why}`);

/** Reads and checks a CAE model dir (model.json's fields, the ONNX file's size and hash). */
export function readCaeDir(dir: string): { model: CaeModelFile; onnx: Buffer } {
  let model: CaeModelFile;
  try {
    model = JSON.parse(readFileSync(join(dir, MODEL_FILE), 'utf8')) as CaeModelFile;
  } catch (err) {
    throw bad(dir, `${MODEL_FILE} cannot be read (${(err as Error).message})`);
  }
  if (model?.kind !== CAE_KIND || model.version !== CAE_VERSION)
    throw bad(dir, `it is not ${CAE_KIND} v${CAE_VERSION}`);
  const p = model.params;
  const size = p?.input?.size;
  if (!Number.isInteger(size) || size < 32 || size > 1024 || !Number.isInteger(p.cell) || p.cell < 1 || size % p.cell)
    throw bad(dir, 'params.input.size and params.cell must be whole numbers, the size a multiple of the cell');
  if (!(p.fps > 0) || !Number.isInteger(p.smoothFrames) || p.smoothFrames < 1)
    throw bad(dir, 'params.fps and params.smoothFrames must be positive');
  if (!(model.threshold > 0) || !Number.isFinite(model.threshold))
    throw bad(dir, 'threshold must be a positive number');
  const file = join(dir, CAE_ONNX);
  if (!existsSync(file)) throw bad(dir, `${CAE_ONNX} is missing`);
  const onnx = readFileSync(file);
  if (onnx.length !== model.onnx?.size)
    throw bad(dir, `${CAE_ONNX} is ${onnx.length} bytes, model.json says ${model.onnx?.size}`);
  const hash = createHash('sha256').update(onnx).digest('hex');
  if (hash !== model.onnx.sha256)
    throw bad(dir, `${CAE_ONNX}'s sha256 does not match model.json (damaged or replaced)`);
  return { model, onnx };
}

/** An ONNX session whose input and `cell_errors` output match the model's input size and cell; else an error. */
export async function caeSession(dir: string, model: CaeModelFile, onnx: Uint8Array, threads = 1) {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(onnx, {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
  } catch (err) {
    throw bad(dir, `${CAE_ONNX} does not load (${(err as Error).message})`);
  }
  try {
    const size = model.params.input.size;
    const g = size / model.params.cell;
    if (session.inputNames.length !== 1 || !session.outputNames.includes('cell_errors'))
      throw bad(dir, `${CAE_ONNX} must take one input and return cell_errors`);
    const out = await session
      .run({
        [session.inputNames[0] as string]: new ort.Tensor('float32', new Float32Array(3 * size * size), [
          1,
          3,
          size,
          size,
        ]),
      })
      .catch((err) => {
        throw bad(dir, `${CAE_ONNX} does not run on a [1,3,${size},${size}] input (${(err as Error).message})`);
      });
    const d = out.cell_errors?.dims ?? [];
    if (d.length !== 3 || d[0] !== 1 || d[1] !== g || d[2] !== g)
      throw bad(dir, `${CAE_ONNX}'s cell_errors is [${d.join(',')}], expected [1,${g},${g}]`);
    return session;
  } catch (err) {
    await session.release();
    throw err;
  }
}

export class CaeModel implements ScoringModel {
  readonly input: TensorOptions;

  private constructor(
    readonly dir: string,
    readonly file: CaeModelFile,
    private readonly session: ort.InferenceSession,
  ) {
    this.input = caeInput(file.params.input.size);
  }

  static async load(dir: string, options: { threads?: number } = {}): Promise<CaeModel> {
    const { model, onnx } = readCaeDir(dir);
    return new CaeModel(dir, model, await caeSession(dir, model, onnx, options.threads ?? 1));
  }

  get threshold(): number {
    return this.file.threshold;
  }

  readonly objectDetector = null;

  scorer(): Scorer {
    return new CaeScorer(this.file, this.session);
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

class CaeScorer implements Scorer {
  private readonly smooth: PastMean;

  constructor(
    private readonly model: CaeModelFile,
    private readonly session: ort.InferenceSession,
  ) {
    this.smooth = new PastMean(model.params.smoothFrames);
  }

  observe(): void {
    // The autoencoder looks at one frame at a time: nothing to carry over.
  }

  async score(frame: Frame): Promise<FrameScore> {
    const size = this.model.params.input.size;
    const data = frame.tensor?.data;
    if (!(data instanceof Float32Array) || data.length !== 3 * size * size)
      throw new GuardianError('INVALID_ARGUMENT', `the CAE needs a [3,${size},${size}] float32 frame tensor`);
    const t0 = performance.now();
    const out = await this.session.run({
      [this.session.inputNames[0] as string]: new ort.Tensor('float32', data, [1, 3, size, size]),
    });
    const inferMs = performance.now() - t0;
    const cells = out.cell_errors?.data as Float32Array;
    const g = size / this.model.params.cell;
    let best = 0;
    let raw = Number.NEGATIVE_INFINITY;
    let over = 0;
    for (let i = 0; i < cells.length; i++) {
      const v = cells[i] as number;
      if (v > raw) [raw, best] = [v, i];
      if (v > this.model.threshold) over++;
    }
    const score = this.smooth.push(raw);
    const x = best % g;
    const y = Math.floor(best / g);
    return {
      score,
      raw,
      region: [x / g, y / g, (x + 1) / g, (y + 1) / g],
      cue: 'appearance',
      ratio: raw / this.model.threshold,
      explanation: 'does not look like what this camera usually sees here',
      unusualShare: over / Math.max(1, cells.length),
      regime: 'any',
      regimeLearned: true,
      ms: { backbone: inferMs, score: performance.now() - t0 - inferMs },
    };
  }
}
