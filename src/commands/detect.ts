// `guardian detect`: run the detection pipeline on a source and summarise what it found. --json prints the summary
// and every sampled frame as one document; --jsonl streams one line per frame, then the summary (for live sources).
import { type Command, Option } from 'commander';

import { MediaError, openSource } from '../../bindings/index.ts';
import { type BackendName, createBackend } from '../edge/detect/backend.ts';
import { resolveModel } from '../edge/detect/models.ts';
import { DetectionPipeline, defaultPipelineOptions } from '../edge/detect/pipeline.ts';
import { choiceOption, jsonOption, numberOption, patternOption } from './options.ts';
import { fail, printJson, progressBar } from './output.ts';

function percentile(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0) * 100) / 100;
}

interface DetectOptions {
  model: string;
  backend: BackendName;
  device: string;
  fps: number;
  threads?: number;
  classes: string;
  minScore?: number;
  duration?: number;
  motion: boolean;
  json?: boolean;
  jsonl?: boolean;
}

type Summary = {
  source: string;
  model: string;
  backend: string;
  fallback: string | null | undefined;
  frames: number;
  detectedFrames: number;
  droppedFrames: number;
  detections: Record<string, number>;
  tracks: Record<string, number>;
  timings: { wallSeconds: number; inferenceMs: { p50: number; p95: number } } & Record<string, unknown>;
};

function printText(s: Summary): void {
  const counts = (m: Record<string, number>) =>
    Object.entries(m)
      .map(([label, n]) => `${label} ${n}`)
      .join(', ') || 'none';
  console.log(
    `${s.source}: ${s.frames} frames analysed (${s.detectedFrames} through the model) in ${s.timings.wallSeconds} s, ` +
      `${s.model} on ${s.backend}`,
  );
  console.log(`  objects tracked: ${counts(s.tracks)}`);
  console.log(`  detections: ${counts(s.detections)}`);
  console.log(`  inference: p50 ${s.timings.inferenceMs.p50} ms, p95 ${s.timings.inferenceMs.p95} ms`);
  if (s.droppedFrames) console.log(`  ${s.droppedFrames} frames dropped (the source was faster than detection)`);
}

export function registerDetectCommand(program: Command): void {
  program
    .command('detect')
    .description('Detect people and vehicles in a source and summarise what was found')
    .argument('<source>', 'file path, rtsp(s):// URL or /dev/videoN')
    .option('--model <model>', 'yolox, nanodet, or a path to a YOLOX/NanoDet-style ONNX model', 'yolox')
    .addOption(choiceOption('--backend <backend>', 'inference runtime', ['onnxruntime', 'openvino'], 'onnxruntime'))
    .addOption(
      patternOption('--device <device>', 'OpenVINO device', /^[A-Z,.0-9]+$/, 'a device such as CPU or GPU', 'CPU'),
    )
    .addOption(numberOption('--fps <n>', 'frames per second analysed', { min: 0.1, max: 30 }, 5))
    .addOption(numberOption('--threads <n>', 'inference threads', { min: 1, max: 16, integer: true }))
    .option('--classes <list>', 'comma-separated classes to report, e.g. person,car', '')
    .addOption(numberOption('--min-score <s>', 'minimum score for every reported class', { min: 0.05, max: 1 }))
    .addOption(
      numberOption('--duration <s>', 'stop after this many seconds of the source', {
        min: 0.1,
        max: 86_400,
        unit: 's',
      }),
    )
    .option('--no-motion', 'run the model on every frame instead of only when something moves')
    .addOption(jsonOption())
    .addOption(
      new Option('--jsonl', 'stream one JSON line per sampled frame, then one with the summary').conflicts('json'),
    )
    .action(async (source: string, opts: DetectOptions) => {
      const bar = progressBar('detecting');
      try {
        const spec = resolveModel(opts.model);
        const classes = { ...defaultPipelineOptions.classes };
        if (opts.classes) {
          for (const k of Object.keys(classes)) delete classes[k];
          for (const c of opts.classes
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)) {
            if (!spec.labels.includes(c))
              throw new MediaError('INVALID_ARGUMENT', `--classes: "${c}" is not a class of the ${spec.kind} model`);
            classes[c] = { minScore: 0.5 };
          }
        }
        if (opts.minScore !== undefined) for (const c of Object.values(classes)) c.minScore = opts.minScore;
        const { backend, fallbackReason } = await createBackend({
          backend: opts.backend,
          modelPath: spec.path,
          device: opts.device,
          ...(opts.threads ? { threads: opts.threads } : {}),
        });
        if (fallbackReason) process.stderr.write(`guardian: ${fallbackReason}\n`);
        const pipeline = new DetectionPipeline(spec, backend, {
          ...defaultPipelineOptions,
          classes,
          motion: opts.motion ? { enabled: true } : { enabled: false },
        });
        const src = await openSource(source, { fps: opts.fps, tensor: spec.tensor, motionWidth: 160 });
        const stop = () => void src.close();
        process.on('SIGINT', stop);
        const started = performance.now();
        const timings = { convert: [] as number[], inference: [] as number[], post: [] as number[] };
        const detections: Record<string, number> = {};
        const tracks = new Map<number, string>();
        const frameLines: unknown[] = [];
        let frames = 0;
        let detectedFrames = 0;
        let firstPts: number | undefined;
        const media = src.info.durationSeconds;
        bar.start(opts.duration !== undefined && media !== null ? Math.min(media, opts.duration) : media);
        for await (const frame of src) {
          firstPts ??= frame.pts;
          if (opts.duration !== undefined && frame.pts - firstPts >= opts.duration) break;
          const r = await pipeline.process(frame, src);
          frames++;
          bar.update(frame.pts - firstPts);
          timings.convert.push(r.timings.convertMs);
          if (r.detected) {
            detectedFrames++;
            timings.inference.push(r.timings.inferenceMs);
            timings.post.push(r.timings.postMs);
          }
          for (const d of r.detections) {
            detections[d.label] = (detections[d.label] ?? 0) + 1;
            if (d.confirmed) tracks.set(d.trackId, d.label);
          }
          const line = {
            frame: r.frame,
            pts: Math.round(r.pts * 1000) / 1000,
            motion: r.motion,
            detections: r.detections.map((d) => ({
              label: d.label,
              score: Math.round(d.score * 1000) / 1000,
              box: d.box.map((v) => Math.round(v * 10) / 10),
              trackId: d.trackId,
            })),
          };
          if (opts.jsonl) printJson(line);
          else if (opts.json) frameLines.push(line); // kept for the one --json document
        }
        process.off('SIGINT', stop);
        bar.stop();
        await src.close();
        await backend.close();
        const trackCounts: Record<string, number> = {};
        for (const label of tracks.values()) trackCounts[label] = (trackCounts[label] ?? 0) + 1;
        const summary: Summary = {
          source: src.label,
          model: spec.kind,
          backend: backend.name,
          fallback: fallbackReason,
          frames,
          detectedFrames,
          droppedFrames: src.stats().dropped,
          detections,
          tracks: trackCounts,
          timings: {
            wallSeconds: Math.round((performance.now() - started) / 10) / 100,
            inferenceMs: { p50: percentile(timings.inference, 50), p95: percentile(timings.inference, 95) },
            convertMs: { p50: percentile(timings.convert, 50), p95: percentile(timings.convert, 95) },
            postMs: { p50: percentile(timings.post, 50), p95: percentile(timings.post, 95) },
          },
        };
        if (opts.jsonl) printJson({ summary });
        else if (opts.json) printJson({ summary, frames: frameLines });
        else printText(summary);
      } catch (err) {
        bar.stop();
        fail(err);
      }
    });
}
