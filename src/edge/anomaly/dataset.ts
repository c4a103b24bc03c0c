// Datasets for fitting and evaluating anomaly models: a directory of *.mp4 clips, plus, for evaluation, a labels.json
// in the form of ../shared/datasets/ped2/test/labels.json ({"clips": {"01.mp4": {"frames", "fps", "anomalous":
// [[first, last], ...]}}}, 0-based decoded frame indices, inclusive ranges).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { type Frame, type MediaSource, openSource, probe, type TensorOptions } from '../../../bindings/index.ts';
import { GuardianError } from '../../shared/errors.ts';
import { backbonePreset, MOTION_WIDTH } from './features.ts';

export interface ClipInfo {
  name: string;
  path: string;
  fps: number;
  /** Seconds (from the container; frame count / fps when it has none). */
  seconds: number;
}

const codeOf = (err: unknown) => (err as { code?: string }).code;

function wrapClip(name: string, err: unknown): GuardianError {
  const code = codeOf(err);
  const known = [
    'CORRUPT_DATA',
    'UNSUPPORTED_CODEC',
    'UNSUPPORTED_INPUT',
    'NOT_FOUND',
    'PERMISSION_DENIED',
    'IO_ERROR',
  ];
  return new GuardianError(
    known.includes(code ?? '') ? (code as 'CORRUPT_DATA') : 'CORRUPT_DATA',
    `clip ${name} does not decode: ${(err as Error).message}`,
  );
}

/** The dataset's *.mp4 clips in name order, probed (a clip that does not open is an error naming it). */
export async function listClips(dir: string): Promise<ClipInfo[]> {
  if (!existsSync(dir)) throw new GuardianError('NOT_FOUND', `dataset ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new GuardianError('INVALID_ARGUMENT', `dataset ${dir} is not a directory`);
  const names = readdirSync(dir)
    .filter((n) => n.toLowerCase().endsWith('.mp4'))
    .sort();
  if (!names.length) throw new GuardianError('INVALID_ARGUMENT', `dataset ${dir} has no *.mp4 clips`);
  const clips: ClipInfo[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      const info = await probe(path);
      const fps = info.fps;
      const seconds = info.durationSeconds ?? (info.frameCount && fps ? info.frameCount / fps : 0);
      if (!(fps > 0)) throw new GuardianError('CORRUPT_DATA', 'no frame rate');
      clips.push({ name, path, fps, seconds });
    } catch (err) {
      throw wrapClip(name, err);
    }
  }
  return clips;
}

/** Every frame of a clip (or `fps` of them) with a model's tensor (the backbone's by default) and the motion plane;
 *  errors name the clip. */
export async function* clipFrames(
  clip: ClipInfo,
  fps: number,
  tensor: TensorOptions = backbonePreset,
  /** Told the open source (a detection pipeline crops from its snapshot ring). */
  onSource?: (source: MediaSource) => void,
): AsyncGenerator<Frame> {
  let src: Awaited<ReturnType<typeof openSource>>;
  // Decode every frame when the clip runs at the model's rate; sample by time otherwise.
  const sample = Math.abs(clip.fps - fps) < 0.5 ? 0 : fps;
  try {
    src = await openSource(clip.path, { fps: sample, tensor, motionWidth: MOTION_WIDTH, snapshotFrames: 8 });
  } catch (err) {
    throw wrapClip(clip.name, err);
  }
  onSource?.(src);
  let frames = 0;
  try {
    for (;;) {
      let frame: Frame | null;
      try {
        frame = await src.read();
      } catch (err) {
        throw wrapClip(clip.name, err);
      }
      if (!frame) break;
      frames++;
      yield frame;
    }
  } finally {
    await src.close();
  }
  if (!frames) throw new GuardianError('CORRUPT_DATA', `clip ${clip.name} does not decode: no video frame in it`);
}

export interface ClipLabels {
  frames: number;
  fps?: number;
  anomalous: [number, number][];
}

/** Reads DIR/labels.json and checks it against the clips: the same names, and ranges inside each clip. */
export function readLabels(dir: string, clips: ClipInfo[]): Map<string, ClipLabels> {
  const file = join(dir, 'labels.json');
  if (!existsSync(file))
    throw new GuardianError('NOT_FOUND', `dataset ${dir} has no labels.json (frame labels are needed to evaluate)`);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new GuardianError('INVALID_ARGUMENT', `${file} is not JSON (${(err as Error).message})`);
  }
  const entries = (doc as { clips?: unknown } | null)?.clips;
  if (typeof entries !== 'object' || entries === null || Array.isArray(entries))
    throw new GuardianError('INVALID_ARGUMENT', `${file} has no "clips" object ({"clips": {"01.mp4": {...}}})`);
  const labels = new Map<string, ClipLabels>();
  const problems: string[] = [];
  for (const [name, raw] of Object.entries(entries as Record<string, unknown>)) {
    const l = raw as Partial<ClipLabels> | null;
    const frames = l?.frames;
    if (!Number.isInteger(frames) || (frames as number) < 1) {
      problems.push(`${name}: "frames" must be a positive whole number`);
      continue;
    }
    const ranges = l?.anomalous;
    if (!Array.isArray(ranges)) {
      problems.push(`${name}: "anomalous" must be a list of [first, last] frame ranges`);
      continue;
    }
    for (const r of ranges) {
      const ok =
        Array.isArray(r) &&
        r.length === 2 &&
        r.every((v) => Number.isInteger(v)) &&
        r[0] >= 0 &&
        r[0] <= r[1] &&
        r[1] < (frames as number);
      if (!ok)
        problems.push(`${name}: range ${JSON.stringify(r)} is not [first, last] within 0–${(frames as number) - 1}`);
    }
    labels.set(name, {
      frames: frames as number,
      ...(typeof l?.fps === 'number' ? { fps: l.fps } : {}),
      anomalous: ranges,
    });
  }
  const clipNames = new Set(clips.map((c) => c.name));
  const missing = [...labels.keys()].filter((n) => !clipNames.has(n));
  const unlabelled = clips.filter((c) => !labels.has(c.name)).map((c) => c.name);
  if (missing.length) problems.push(`labelled but not in the dataset: ${missing.join(', ')}`);
  if (unlabelled.length) problems.push(`clips without labels: ${unlabelled.join(', ')}`);
  for (const c of clips) {
    const l = labels.get(c.name);
    if (l?.fps !== undefined && Math.abs(l.fps - c.fps) > 0.5)
      problems.push(`${c.name}: labelled at ${l.fps} fps but the clip runs at ${round(c.fps)} fps`);
  }
  if (problems.length)
    throw new GuardianError('INVALID_ARGUMENT', `${file} does not match the clips: ${problems.join('; ')}`);
  return labels;
}

/** 0/1 per frame from inclusive ranges. */
export function frameLabels(l: ClipLabels): Uint8Array {
  const y = new Uint8Array(l.frames);
  for (const [a, b] of l.anomalous) y.fill(1, a, b + 1);
  return y;
}

const round = (v: number) => Math.round(v * 100) / 100;
