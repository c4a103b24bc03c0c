// Model adapters: how to feed YOLOX and NanoDet and how to decode their raw outputs, exactly as
// ../shared/models/README.md specifies (grid decoding for YOLOX, distribution-focal boxes for NanoDet).
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

import { type TensorOptions, tensorPresets } from '../../../bindings/index.ts';
import { GuardianError } from '../../shared/errors.ts';
import { sharedPath } from '../../shared/paths.ts';
import { clipBox, nmsPerClass } from './nms.ts';
import type { Box, Detection, OutputTensor, TensorGeometry } from './types.ts';

export type ModelKind = 'yolox' | 'nanodet';

export interface ModelSpec {
  kind: ModelKind;
  path: string;
  size: number;
  tensor: TensorOptions;
  labels: string[];
}

let cocoNames: string[] | undefined;
export function cocoLabels(): string[] {
  cocoNames ??= readFileSync(sharedPath('models', 'coco.names'), 'utf8')
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  return cocoNames;
}

/** `yolox`, `nanodet`, or a path to any YOLOX- or NanoDet-style ONNX model (the kind is guessed from its name). */
export function resolveModel(model: string, options: { size?: number; kind?: ModelKind } = {}): ModelSpec {
  let kind: ModelKind;
  let path: string;
  if (model === 'yolox') [kind, path] = ['yolox', sharedPath('models', 'yolox_nano.onnx')];
  else if (model === 'nanodet') [kind, path] = ['nanodet', sharedPath('models', 'nanodet-m-320.onnx')];
  else {
    path = model;
    kind = options.kind ?? (/nanodet/i.test(basename(model)) ? 'nanodet' : 'yolox');
  }
  if (!existsSync(path)) throw new GuardianError('NOT_FOUND', `model file not found: ${path}`);
  const preset = kind === 'yolox' ? tensorPresets.yolox : tensorPresets.nanodet;
  const size = options.size ?? preset.size;
  return { kind, path, size, tensor: { ...preset, size }, labels: cocoLabels() };
}

/** From tensor coordinates back to frame coordinates (undoes the letterbox/stretch and any crop offset). */
export function toFrame(b: Box, g: TensorGeometry): Box {
  return clipBox(
    [
      b[0] / g.scaleX + g.offsetX,
      b[1] / g.scaleY + g.offsetY,
      b[2] / g.scaleX + g.offsetX,
      b[3] / g.scaleY + g.offsetY,
    ],
    g.frameWidth,
    g.frameHeight,
  );
}

export interface DecodeOptions {
  /** Candidates below this score are dropped before NMS. */
  minScore: number;
  iou: number;
}

// YOLOX: [1, N, 5 + C] raw head; N = sum over strides 8/16/32 of (S/stride)^2, row-major per level.
export function decodeYolox(
  outputs: OutputTensor[],
  spec: ModelSpec,
  geometry: TensorGeometry,
  opts: DecodeOptions,
): Detection[] {
  const out = outputs[0];
  if (!out) return [];
  const [, n = 0, stride = 0] = out.dims;
  const classes = stride - 5;
  const data = out.data;
  const dets: Detection[] = [];
  let row = 0;
  for (const s of [8, 16, 32]) {
    const grid = Math.floor(spec.size / s);
    for (let gy = 0; gy < grid; gy++) {
      for (let gx = 0; gx < grid; gx++, row++) {
        if (row >= n) break;
        const o = row * stride;
        const obj = data[o + 4] as number;
        if (obj < opts.minScore) continue; // score = obj * cls <= obj
        let best = 0;
        let bestClass = 0;
        for (let c = 0; c < classes; c++) {
          const v = data[o + 5 + c] as number;
          if (v > best) {
            best = v;
            bestClass = c;
          }
        }
        const score = obj * best;
        if (score < opts.minScore) continue;
        const cx = ((data[o] ?? 0) + gx) * s;
        const cy = ((data[o + 1] ?? 0) + gy) * s;
        const w = Math.exp(data[o + 2] ?? 0) * s;
        const h = Math.exp(data[o + 3] ?? 0) * s;
        dets.push({
          classId: bestClass,
          label: spec.labels[bestClass] ?? String(bestClass),
          score,
          box: toFrame([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], geometry),
        });
      }
    }
  }
  return nmsPerClass(dets, opts.iou);
}

// NanoDet: per stride a class map [N, C] (sigmoid applied) and a box map [N, 4 * bins]; outputs are picked by shape.
export function decodeNanodet(
  outputs: OutputTensor[],
  spec: ModelSpec,
  geometry: TensorGeometry,
  opts: DecodeOptions,
): Detection[] {
  const classes = spec.labels.length;
  const dets: Detection[] = [];
  const last = (t: OutputTensor) => t.dims[t.dims.length - 1] ?? 0;
  const rows = (t: OutputTensor) => t.data.length / Math.max(1, last(t));
  for (const s of [8, 16, 32]) {
    const grid = Math.ceil(spec.size / s);
    const n = grid * grid;
    const cls = outputs.find((t) => last(t) === classes && rows(t) === n);
    const reg = outputs.find((t) => last(t) !== classes && last(t) % 4 === 0 && rows(t) === n);
    if (!cls || !reg) continue;
    const bins = last(reg) / 4;
    const scores = cls.data;
    const boxes = reg.data;
    for (let i = 0; i < n; i++) {
      // Hot loop (N x 80 per level): plain indexed reads, no per-element fallbacks.
      const row = i * classes;
      let best = 0;
      let bestClass = 0;
      for (let c = 0; c < classes; c++) {
        const v = scores[row + c] as number;
        if (v > best) {
          best = v;
          bestClass = c;
        }
      }
      if (best < opts.minScore) continue;
      const x = (i % grid) * s + 0.5 * (s - 1); // cell centre, as the model README defines it
      const y = Math.floor(i / grid) * s + 0.5 * (s - 1);
      const dist = [0, 0, 0, 0];
      for (let side = 0; side < 4; side++) {
        // softmax over bins, then the expectation
        const base = i * 4 * bins + side * bins;
        let max = Number.NEGATIVE_INFINITY;
        for (let k = 0; k < bins; k++) max = Math.max(max, boxes[base + k] as number);
        let sum = 0;
        let expect = 0;
        for (let k = 0; k < bins; k++) {
          const e = Math.exp((boxes[base + k] as number) - max);
          sum += e;
          expect += e * k;
        }
        dist[side] = (expect / sum) * s;
      }
      dets.push({
        classId: bestClass,
        label: spec.labels[bestClass] ?? String(bestClass),
        score: best,
        box: toFrame([x - (dist[0] ?? 0), y - (dist[1] ?? 0), x + (dist[2] ?? 0), y + (dist[3] ?? 0)], geometry),
      });
    }
  }
  return nmsPerClass(dets, opts.iou);
}

export function decode(outputs: OutputTensor[], spec: ModelSpec, g: TensorGeometry, o: DecodeOptions): Detection[] {
  return spec.kind === 'yolox' ? decodeYolox(outputs, spec, g, o) : decodeNanodet(outputs, spec, g, o);
}
