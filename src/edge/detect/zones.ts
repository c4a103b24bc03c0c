// Zones and object masks: polygons in 0-1 frame coordinates. An object is in a polygon when the bottom centre of
// its box is (where it stands), as in Frigate.
import type { Box } from './types.ts';

export type Point = [number, number];

export interface Zone {
  name: string;
  points: Point[];
}

export function insidePolygon(points: readonly Point[], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
    const [xi, yi] = points[i] as Point;
    const [xj, yj] = points[j] as Point;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function bottomCentre(box: Box, width: number, height: number): Point {
  return [(box[0] + box[2]) / 2 / width, box[3] / height];
}

export function zonesOf(box: Box, zones: readonly Zone[], width: number, height: number): string[] {
  const [x, y] = bottomCentre(box, width, height);
  return zones.filter((z) => insidePolygon(z.points, x, y)).map((z) => z.name);
}

export function masked(box: Box, masks: readonly Point[][], width: number, height: number): boolean {
  const [x, y] = bottomCentre(box, width, height);
  return masks.some((m) => insidePolygon(m, x, y));
}
