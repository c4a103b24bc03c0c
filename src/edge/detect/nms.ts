// Box arithmetic and per-class non-maximum suppression.
import type { Box, Detection } from './types.ts';

export function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  if (inter <= 0) return 0;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Keeps the best box of each overlapping group, class by class. */
export function nmsPerClass(dets: Detection[], iouThreshold: number): Detection[] {
  const byClass = new Map<number, Detection[]>();
  for (const d of dets) {
    const list = byClass.get(d.classId);
    if (list) list.push(d);
    else byClass.set(d.classId, [d]);
  }
  const kept: Detection[] = [];
  for (const list of byClass.values()) {
    list.sort((a, b) => b.score - a.score);
    const chosen: Detection[] = [];
    for (const d of list) if (chosen.every((c) => iou(c.box, d.box) <= iouThreshold)) chosen.push(d);
    kept.push(...chosen);
  }
  return kept.sort((a, b) => b.score - a.score);
}

export function clipBox(b: Box, width: number, height: number): Box {
  return [
    Math.min(Math.max(b[0], 0), width),
    Math.min(Math.max(b[1], 0), height),
    Math.min(Math.max(b[2], 0), width),
    Math.min(Math.max(b[3], 0), height),
  ];
}
