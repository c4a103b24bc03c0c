// Training the CAE anomaly model (src/edge/anomaly/cae.ts): the frames are decoded here by the media core into
// exactly the tensor live scoring feeds the model, written to a raw file, and handed to the PyTorch worker
// (training/cae_worker.py, Debian's /usr/bin/python3 with python3-torch) which trains, picks the threshold on
// held-out frames and exports ONNX. The model dir appears all at once when everything succeeded (staged beside it,
// then renamed); a failed or cancelled training leaves nothing.
//
// A dataset is a folder of normal *.mp4 clips, a folder of normal images (*.jpg, *.jpeg, *.png), an extracted
// dataset (manifest.json: only items labelled `normal` are learned, optionally one camera's), or a dataset ZIP as
// the edge exports it (checked and extracted first).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { openSource } from '../../../bindings/index.ts';
import { CAE_KIND, CAE_ONNX, CAE_VERSION, type CaeModelFile, caeInput } from '../../edge/anomaly/cae.ts';
import { listClips } from '../../edge/anomaly/dataset.ts';
import { MODEL_FILE } from '../../edge/anomaly/model.ts';
import { extractDataset, readDatasetDir } from '../../shared/dataset-archive.ts';
import { GuardianError } from '../../shared/errors.ts';

/** The plan: at least 50–100 normal images before a CAE is worth training. */
export const MIN_NORMAL_FRAMES = 50;
export const workerScript = resolve(dirname(new URL(import.meta.url).pathname), '../../../training/cae_worker.py');
export const pythonPath = () => process.env.GUARDIAN_PYTHON ?? '/usr/bin/python3';

/** Why training cannot run here (the Python has no PyTorch), or null when it can. */
export function pyTorchMissing(): string | null {
  const r = spawnSync(pythonPath(), ['-c', 'import torch'], { stdio: 'ignore' });
  return r.status === 0 ? null : `${pythonPath()} has no PyTorch (apt-get install python3-torch; npm run setup does)`;
}

export interface CaeTrainOptions {
  dataset: string;
  out: string;
  epochs?: number;
  /** Only this camera's items of a manifest dataset. */
  cameraId?: string;
  /** Rate clips are sampled at (default: the clip's own, at most 10 a second: what live scoring runs at). */
  fps?: number;
  size?: number;
  latent?: number;
  batch?: number;
  patience?: number;
  threads?: number;
  /** At most this many frames (evenly spaced), for quick runs. */
  maxFrames?: number;
  seed?: number;
  signal?: AbortSignal;
}

export interface TrainProgress {
  stage: 'decoding' | 'training';
  /** decoding: frames so far; training: epochs done. */
  done: number;
  total: number;
  loss?: number;
  valLoss?: number;
  epochSeconds?: number;
}

interface Source {
  path: string;
  /** Frames of one run (a clip) stay together: held out whole, smoothed in order. */
  run: number;
}

async function collect(
  dataset: string,
  opts: CaeTrainOptions,
  work: string,
): Promise<{ sources: Source[]; clips: boolean; fps: number; name: string }> {
  if (!existsSync(dataset)) throw new GuardianError('NOT_FOUND', `dataset ${dataset} does not exist`);
  let dir = dataset;
  if (statSync(dataset).isFile()) {
    if (!dataset.toLowerCase().endsWith('.zip'))
      throw new GuardianError('INVALID_ARGUMENT', `dataset ${dataset} is neither a folder nor a dataset ZIP`);
    dir = join(work, 'dataset');
    await extractDataset(dataset, dir);
  }
  const names = readdirSync(dir).sort();
  if (names.includes('manifest.json')) {
    const m = readDatasetDir(dir);
    const items = m.items.filter((i) => i.label === 'normal' && (!opts.cameraId || i.cameraId === opts.cameraId));
    items.sort((a, b) => a.takenMs - b.takenMs);
    return {
      sources: items.map((i, n) => ({ path: join(dir, i.file), run: n })),
      clips: false,
      fps: opts.fps ?? 10,
      name: basename(dataset),
    };
  }
  if (names.some((n) => n.toLowerCase().endsWith('.mp4'))) {
    const clips = await listClips(dir);
    const fps = opts.fps ?? Math.min(10, Math.round(clips[0]?.fps ?? 10));
    return { sources: clips.map((c, n) => ({ path: c.path, run: n })), clips: true, fps, name: basename(dataset) };
  }
  const images = names.filter((n) => /\.(jpe?g|png)$/i.test(n));
  if (!images.length)
    throw new GuardianError('INVALID_ARGUMENT', `dataset ${dataset} has no *.mp4 clips, images or manifest.json`);
  return {
    sources: images.map((n, i) => ({ path: join(dir, n), run: i })),
    clips: false,
    fps: opts.fps ?? 10,
    name: basename(dataset),
  };
}

/** Trains a CAE into `out` (a new dir, or an existing model dir that is replaced). */
export async function trainCae(
  opts: CaeTrainOptions,
  onProgress: (p: TrainProgress) => void = () => {},
): Promise<CaeModelFile> {
  const out = resolve(opts.out);
  if (
    existsSync(out) &&
    (!statSync(out).isDirectory() || (readdirSync(out).length && !existsSync(join(out, MODEL_FILE))))
  )
    throw new GuardianError('INVALID_ARGUMENT', `${out} exists and is not a model dir: choose a new folder`);
  const size = opts.size ?? 224;
  const work = mkdtempSync(join(tmpdir(), 'guardian-train-'));
  const stage = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  const started = performance.now();
  try {
    const { sources, clips, fps, name } = await collect(opts.dataset, opts, work);
    // Decode every frame into the raw file, in order, remembering which run (clip) it belongs to.
    const framesFile = join(work, 'frames.u8');
    const fd = openSync(framesFile, 'wx', 0o600);
    const runOf: number[] = [];
    const tensor = { ...caeInput(size), layout: 'nhwc-uint8' as const };
    const hash = createHash('sha256');
    try {
      for (const s of sources) {
        opts.signal?.throwIfAborted();
        const src = await openSource(s.path, { tensor, ...(clips ? { fps } : {}) }).catch((err) => {
          throw new GuardianError('CORRUPT_DATA', `${basename(s.path)} does not decode: ${(err as Error).message}`);
        });
        try {
          for (;;) {
            const f = await src.read();
            if (!f?.tensor) break;
            const bytes = f.tensor.data as Uint8Array;
            writeSync(fd, bytes);
            hash.update(bytes);
            runOf.push(s.run);
            onProgress({ stage: 'decoding', done: runOf.length, total: 0 });
            if (!clips) break; // an image is one frame
          }
        } finally {
          await src.close();
        }
      }
    } finally {
      closeSync(fd);
    }
    let keep = runOf.map((_, i) => i);
    if (opts.maxFrames && keep.length > opts.maxFrames) {
      const step = keep.length / opts.maxFrames;
      keep = Array.from({ length: opts.maxFrames }, (_, i) => Math.floor(i * step));
    }
    if (keep.length < MIN_NORMAL_FRAMES)
      throw new GuardianError(
        'INVALID_ARGUMENT',
        `too few normal frames to train on: the dataset has ${keep.length}, training needs at least ${MIN_NORMAL_FRAMES} ` +
          '(label more screenshots normal, or give more footage)',
      );
    const count = runOf.length;
    // Held out: every 4th clip (whole), or every 5th image; at least one.
    const runs = [...new Set(runOf)];
    const heldRuns = new Set(
      clips && runs.length >= 2 ? runs.filter((_, i) => i % 4 === 3 || (runs.length < 4 && i === runs.length - 1)) : [],
    );
    const kept = new Set(keep);
    const held =
      clips && heldRuns.size
        ? keep.filter((i) => heldRuns.has(runOf[i] as number))
        : keep.filter((_, n) => n % 5 === 4);
    const heldSet = new Set(held);
    const heldOutRuns =
      clips && heldRuns.size ? [...heldRuns].map((r) => held.filter((i) => runOf[i] === r)) : held.map((i) => [i]);
    const excluded = runOf.map((_, i) => i).filter((i) => !kept.has(i));
    const request = {
      frames: framesFile,
      count,
      size,
      out: stage,
      epochs: opts.epochs ?? 30,
      batch: opts.batch ?? 16,
      patience: opts.patience ?? 3,
      latent: opts.latent ?? 128,
      smooth_frames: clips ? 5 : 1,
      threshold_percentile: 99,
      seed: opts.seed ?? 1,
      threads: opts.threads,
      held_out: held,
      held_out_runs: heldOutRuns,
      exclude: excluded,
    };
    if (!keep.some((i) => !heldSet.has(i)))
      throw new GuardianError('INVALID_ARGUMENT', 'nothing left to train on after holding out');
    const done = await runWorker(request, opts.signal, (m) =>
      onProgress({
        stage: 'training',
        done: m.epoch,
        total: request.epochs,
        loss: m.loss,
        valLoss: m.valLoss,
        epochSeconds: m.seconds,
      }),
    );
    const onnx = readFileSync(join(stage, CAE_ONNX));
    const model: CaeModelFile = {
      kind: CAE_KIND,
      version: CAE_VERSION,
      created: new Date().toISOString(),
      params: {
        input: { size, channels: 'rgb', mean: [0, 0, 0], std: [255, 255, 255] },
        cell: 16,
        latent: request.latent,
        smoothFrames: request.smooth_frames,
        thresholdPercentile: request.threshold_percentile,
        fps,
      },
      threshold: done.threshold,
      onnx: { file: CAE_ONNX, sha256: createHash('sha256').update(onnx).digest('hex'), size: onnx.length },
      training: {
        dataset: name,
        trainingSetSha256: hash.digest('hex'),
        frames: keep.length,
        trainFrames: done.trainFrames,
        heldOutFrames: done.heldOutFrames,
        epochs: done.epochs,
        bestEpoch: done.bestEpoch,
        valLoss: done.valLoss,
        seconds: Math.round((performance.now() - started) / 100) / 10,
        secondsPerEpoch:
          Math.round((done.history.reduce((a, h) => a + h.seconds, 0) / Math.max(1, done.history.length)) * 100) / 100,
        parameters: done.parameters,
        history: done.history,
      },
    };
    writeFileSync(join(stage, MODEL_FILE), JSON.stringify(model, null, 2), { mode: 0o600 });
    if (existsSync(out)) rmSync(out, { recursive: true, force: true });
    renameSync(stage, out);
    return model;
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(stage, { recursive: true, force: true });
  }
}

interface EpochMessage {
  type: 'epoch';
  epoch: number;
  epochs: number;
  loss: number;
  valLoss: number;
  seconds: number;
}

interface DoneMessage {
  type: 'done';
  threshold: number;
  trainingSetSha256: string;
  epochs: number;
  bestEpoch: number;
  history: { epoch: number; loss: number; valLoss: number; seconds: number }[];
  trainFrames: number;
  heldOutFrames: number;
  valLoss: number;
  seconds: number;
  parameters: number;
}

/** Runs the PyTorch worker on one request; its last stderr lines explain a failure. */
function runWorker(
  request: object,
  signal: AbortSignal | undefined,
  onEpoch: (m: EpochMessage) => void,
): Promise<DoneMessage> {
  return new Promise((resolvePromise, reject) => {
    signal?.throwIfAborted();
    const child = spawn(pythonPath(), [workerScript], { stdio: ['pipe', 'pipe', 'pipe'] });
    const stderr: string[] = [];
    let result: DoneMessage | undefined;
    let failure: string | undefined;
    const abort = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', abort, { once: true });
    createInterface({ input: child.stderr }).on('line', (l) => {
      stderr.push(l);
      if (stderr.length > 20) stderr.shift();
    });
    createInterface({ input: child.stdout }).on('line', (l) => {
      let m: EpochMessage | DoneMessage | { type: 'error'; message: string };
      try {
        m = JSON.parse(l);
      } catch {
        return;
      }
      if (m.type === 'epoch') onEpoch(m);
      else if (m.type === 'done') result = m;
      else if (m.type === 'error') failure = m.message;
    });
    child.on('error', (err) => {
      failure = `the training worker (${pythonPath()}) cannot start: ${err.message}`;
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', abort);
      if (signal?.aborted) return reject(new GuardianError('CANCELLED', 'training was cancelled'));
      if (result && code === 0) return resolvePromise(result);
      const tail = stderr
        .filter((l) => l.trim())
        .slice(-3)
        .join(' | ');
      reject(
        new GuardianError(
          'INTERNAL',
          `training failed: ${failure ?? `the worker stopped (${sig ?? `exit code ${code}`})`}${tail && !failure ? ` (${tail})` : ''}`,
        ),
      );
    });
    child.stdin.end(`${JSON.stringify(request)}\n`);
  });
}
