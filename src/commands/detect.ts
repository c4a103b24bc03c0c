// `guardian detect`: run the detection pipeline on a source; one JSON line per sampled frame, then a summary.
import type { Command } from 'commander';

import { MediaError, openSource } from '../../bindings/index.ts';
import { type BackendName, createBackend } from '../edge/detect/backend.ts';
import { resolveModel } from '../edge/detect/models.ts';
import { DetectionPipeline, defaultPipelineOptions } from '../edge/detect/pipeline.ts';
import { fail, printJson } from './output.ts';

function percentile(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0) * 100) / 100;
}

export function registerDetectCommand(program: Command): void {
  program
    .command('detect')
    .description('Detect people and vehicles in a source: one JSON line per sampled frame, then a summary')
    .argument('<source>', 'file path, rtsp(s):// URL or /dev/videoN')
    .option('--model <model>', 'yolox, nanodet, or a path to a YOLOX/NanoDet-style ONNX model', 'yolox')
    .option('--backend <backend>', 'onnxruntime or openvino', 'onnxruntime')
    .option('--device <device>', 'OpenVINO device (CPU, GPU)', 'CPU')
    .option('--fps <n>', 'frames per second analysed', (v) => Number(v), 5)
    .option('--threads <n>', 'inference threads', (v) => Number(v))
    .option('--classes <list>', 'comma-separated classes to report, e.g. person,car', '')
    .option('--min-score <s>', 'minimum score for every reported class', (v) => Number(v))
    .option('--no-motion', 'run the model on every frame instead of only when something moves')
    .option('--json', 'JSON lines (the default output is also JSON lines; --json adds nothing but is accepted)')
    .action(
      async (
        source: string,
        opts: {
          model: string;
          backend: string;
          device: string;
          fps: number;
          threads?: number;
          classes: string;
          minScore?: number;
          motion: boolean;
          json?: boolean;
        },
      ) => {
        try {
          if (opts.backend !== 'onnxruntime' && opts.backend !== 'openvino')
            throw new MediaError(
              'INVALID_ARGUMENT',
              `Expected onnxruntime or openvino for --backend but received "${opts.backend}"`,
            );
          if (!(opts.fps > 0 && opts.fps <= 30))
            throw new MediaError('INVALID_ARGUMENT', 'Expected a number greater than 0 and at most 30 for --fps');
          const spec = resolveModel(opts.model);
          const { backend, fallbackReason } = await createBackend({
            backend: opts.backend as BackendName,
            modelPath: spec.path,
            device: opts.device,
            ...(opts.threads ? { threads: opts.threads } : {}),
          });
          if (fallbackReason) process.stderr.write(`guardian: ${fallbackReason}\n`);
          const classes = { ...defaultPipelineOptions.classes };
          if (opts.classes) {
            for (const k of Object.keys(classes)) delete classes[k];
            for (const c of opts.classes
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)) {
              if (!spec.labels.includes(c))
                throw new MediaError('INVALID_ARGUMENT', `Unknown class "${c}" for this model`);
              classes[c] = { minScore: 0.5 };
            }
          }
          if (opts.minScore !== undefined) for (const c of Object.values(classes)) c.minScore = opts.minScore;
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
          let frames = 0;
          let detectedFrames = 0;
          for await (const frame of src) {
            const r = await pipeline.process(frame, src);
            frames++;
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
            printJson({
              frame: r.frame,
              pts: Math.round(r.pts * 1000) / 1000,
              motion: r.motion,
              detections: r.detections.map((d) => ({
                label: d.label,
                score: Math.round(d.score * 1000) / 1000,
                box: d.box.map((v) => Math.round(v * 10) / 10),
                trackId: d.trackId,
              })),
            });
          }
          process.off('SIGINT', stop);
          await src.close();
          await backend.close();
          const trackCounts: Record<string, number> = {};
          for (const label of tracks.values()) trackCounts[label] = (trackCounts[label] ?? 0) + 1;
          printJson({
            summary: {
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
            },
          });
        } catch (err) {
          fail(err, true);
        }
      },
    );
}
