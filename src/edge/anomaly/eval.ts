// Evaluating a fitted model on labelled clips: every frame is scored as live video would be (causal, one scorer per
// clip, nothing learned from these clips), then frame-level AUROC (micro: all frames pooled; macro: mean over clips
// that have both classes) and the true/false-positive rates at the model's own threshold.
import { GuardianError } from '../../shared/errors.ts';
import { auroc, ratesAt } from './auroc.ts';
import { ClipAnalyser, detectorPath, fileSha256 } from './clip-analyser.ts';
import { type ClipInfo, clipFrames, frameLabels, listClips, readLabels } from './dataset.ts';
import { loadAnomalyModel } from './kinds.ts';

export interface ClipEvaluation {
  clip: string;
  frames: number;
  anomalousFrames: number;
  auroc: number | null;
  tpr: number | null;
  fpr: number | null;
  /** The clip's highest-scoring frame and what the model says about it (the explanation an event would carry). */
  peak: { frame: number; score: number; region: [number, number, number, number]; explanation: string } | null;
}

export interface Evaluation {
  model: { dir: string; kind: string; version: number; threshold: number };
  dataset: string;
  auroc: { micro: number | null; macro: number | null };
  frames: number;
  /** Milliseconds per frame on the JS thread: backbone (features) + scoring; decoding runs on native threads. */
  msPerFrame: number;
  timing: { p50: number; p95: number; backboneMs: number; scoreMs: number; convertMs: number };
  threshold: number;
  tpr: number | null;
  fpr: number | null;
  clips: ClipEvaluation[];
  /** Per clip, the smoothed score of every frame (only with `scores: true`). */
  scores?: Record<string, number[]>;
}

export interface EvalHooks {
  onStart?: (seconds: number) => void;
  onProgress?: (seconds: number) => void;
}

const r4 = (v: number | null) => (v === null ? null : Math.round(v * 10_000) / 10_000);
const r2 = (v: number) => Math.round(v * 100) / 100;

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number) : 0;
}

export async function evaluateModel(
  modelDir: string,
  datasetDir: string,
  options: { backbonePath?: string; threads?: number; scores?: boolean } = {},
  hooks: EvalHooks = {},
): Promise<Evaluation> {
  // Everything that can be checked before the long part is checked first.
  const model = await loadAnomalyModel(modelDir, options);
  let analyser: ClipAnalyser | undefined;
  try {
    // Frames as the camera sees them: through the detector the object cues were learned with, when there is one.
    const detector = model.objectDetector;
    analyser = await ClipAnalyser.create(
      detector
        ? { model: detectorPath(detector.model), classes: detector.classes, threads: options.threads ?? 1 }
        : null,
    );
    const frames = detector
      ? (clip: ClipInfo, fps: number) => (analyser as ClipAnalyser).frames(clip, fps)
      : async function* (clip: ClipInfo, fps: number) {
          for await (const frame of clipFrames(clip, fps, model.input)) yield { frame, objects: [] };
        };
    if (detector) {
      const sha = fileSha256(detectorPath(detector.model));
      if (sha !== detector.sha256)
        throw new GuardianError(
          'INVALID_ARGUMENT',
          `the detector ${detector.model} is not the one this model's object cues were learned with (sha256 ${sha.slice(0, 12)}…): fit the model again`,
        );
    }
    const clips = await listClips(datasetDir);
    const labels = readLabels(datasetDir, clips);
    const fps = model.file.params.fps;
    const wrongRate = clips.filter((c) => Math.abs(c.fps - fps) >= 0.5);
    if (wrongRate.length)
      throw new GuardianError(
        'INVALID_ARGUMENT',
        `the model was fitted at ${fps} fps but ${wrongRate.map((c) => `${c.name} runs at ${r2(c.fps)} fps`).join(', ')}: evaluate on clips at the model's rate`,
      );
    hooks.onStart?.(clips.reduce((s, c) => s + c.seconds, 0));
    const allScores: number[] = [];
    const allLabels: number[] = [];
    const perClip: ClipEvaluation[] = [];
    const scores: Record<string, number[]> = {};
    const frameMs: number[] = [];
    let backboneMs = 0;
    let scoreMs = 0;
    let convertMs = 0;
    let done = 0;
    for (const clip of clips) {
      const l = labels.get(clip.name);
      if (!l) continue; // readLabels guarantees a label per clip
      const y = frameLabels(l);
      const scorer = model.scorer();
      const s: number[] = [];
      let peak: ClipEvaluation['peak'] = null;
      for await (const { frame, objects } of frames(clip, fps)) {
        const r = await scorer.score(frame, objects);
        if (!peak || r.score > peak.score)
          peak = {
            frame: s.length,
            score: r4(r.score) as number,
            region: r.region.map((v) => r4(v) as number) as [number, number, number, number],
            explanation: r.explanation,
          };
        s.push(r.score);
        frameMs.push(r.ms.backbone + r.ms.score);
        backboneMs += r.ms.backbone;
        scoreMs += r.ms.score;
        convertMs += frame.convertMs;
        hooks.onProgress?.(done + s.length / fps);
      }
      done += clip.seconds;
      if (s.length !== l.frames)
        throw new GuardianError(
          'INVALID_ARGUMENT',
          `labels.json does not match the clips: ${clip.name} is labelled with ${l.frames} frames but has ${s.length}`,
        );
      const rates = ratesAt(s, y, model.threshold);
      perClip.push({
        clip: clip.name,
        frames: s.length,
        anomalousFrames: y.reduce((a, b) => a + b, 0),
        auroc: r4(auroc(s, y)),
        tpr: r4(rates.tpr),
        fpr: r4(rates.fpr),
        peak,
      });
      if (options.scores) scores[clip.name] = s.map((v) => Math.round(v * 1000) / 1000);
      for (let i = 0; i < s.length; i++) {
        allScores.push(s[i] as number);
        allLabels.push(y[i] as number);
      }
    }
    const macroValues = perClip.map((c) => c.auroc).filter((v): v is number => v !== null);
    const rates = ratesAt(allScores, allLabels, model.threshold);
    const n = allScores.length;
    return {
      model: { dir: model.dir, kind: model.file.kind, version: model.file.version, threshold: model.threshold },
      dataset: datasetDir,
      auroc: {
        micro: r4(auroc(allScores, allLabels)),
        macro: macroValues.length ? r4(macroValues.reduce((a, b) => a + b, 0) / macroValues.length) : null,
      },
      frames: n,
      msPerFrame: r2(frameMs.reduce((a, b) => a + b, 0) / Math.max(1, n)),
      timing: {
        p50: r2(percentile(frameMs, 50)),
        p95: r2(percentile(frameMs, 95)),
        backboneMs: r2(backboneMs / Math.max(1, n)),
        scoreMs: r2(scoreMs / Math.max(1, n)),
        convertMs: r2(convertMs / Math.max(1, n)),
      },
      threshold: r4(model.threshold) as number,
      tpr: r4(rates.tpr),
      fpr: r4(rates.fpr),
      clips: perClip,
      ...(options.scores ? { scores } : {}),
    };
  } finally {
    await analyser?.close();
    await model.close();
  }
}
