import assert from 'node:assert/strict';

import { MotionDetector } from '../../bindings/index.ts';
import { iou, nmsPerClass } from '../../src/edge/detect/nms.ts';
import { defaultTrackerOptions, Tracker } from '../../src/edge/detect/tracker.ts';
import type { Box, Detection } from '../../src/edge/detect/types.ts';
import { insidePolygon, masked, zonesOf } from '../../src/edge/detect/zones.ts';

const W = 160;
const H = 120;
function plane(fill: number, square?: { x: number; y: number; size: number; value: number }) {
  const data = new Uint8Array(W * H);
  for (let i = 0; i < data.length; i++) data[i] = fill + ((i * 7919) % 5); // a little texture
  if (square)
    for (let y = square.y; y < square.y + square.size; y++)
      for (let x = square.x; x < square.x + square.size; x++) data[y * W + x] = square.value;
  return { data, width: W, height: H };
}

describe('motion detector (C++)', () => {
  it('reports nothing for a still scene and a box where something moves', () => {
    const m = new MotionDetector({ minArea: 0.002 });
    for (let i = 0; i < 5; i++) assert.equal(m.detect(plane(100)).boxes.length, 0);
    const r = m.detect(plane(100, { x: 60, y: 40, size: 20, value: 220 }));
    assert.equal(r.calibrating, false);
    assert.equal(r.boxes.length, 1);
    const [x1, y1, x2, y2] = r.boxes[0] ?? [0, 0, 0, 0];
    assert.ok(x1 <= 60 / W && x2 >= 80 / W && y1 <= 40 / H && y2 >= 60 / H, JSON.stringify(r.boxes));
    assert.ok(x2 - x1 < 0.25, 'the box is around the square, not the frame');
  });

  it('recalibrates instead of reporting motion when the whole scene changes (lights, IR)', () => {
    const m = new MotionDetector();
    for (let i = 0; i < 5; i++) m.detect(plane(60));
    const r = m.detect(plane(200, { x: 0, y: 0, size: 10, value: 30 }));
    // A global jump either re-learns the scene or, after contrast normalisation, shows no change at all.
    assert.equal(r.boxes.length, 0, JSON.stringify(r));
    assert.equal(m.detect(plane(200, { x: 0, y: 0, size: 10, value: 30 })).boxes.length, 0, 'and is quiet afterwards');
  });

  it('ignores motion inside a mask polygon', () => {
    const m = new MotionDetector({
      minArea: 0.002,
      mask: [
        [
          [0.3, 0.2],
          [0.6, 0.2],
          [0.6, 0.6],
          [0.3, 0.6],
        ],
      ],
    });
    for (let i = 0; i < 5; i++) m.detect(plane(100));
    assert.equal(m.detect(plane(100, { x: 60, y: 40, size: 20, value: 220 })).boxes.length, 0);
    assert.equal(m.detect(plane(100, { x: 120, y: 80, size: 20, value: 220 })).boxes.length, 1);
  });

  it('refuses a plane smaller than its stated size', () => {
    const m = new MotionDetector();
    assert.throws(() => m.detect({ data: new Uint8Array(10), width: 160, height: 120 }), { code: 'INVALID_ARGUMENT' });
  });
});

const CLASS_IDS: Record<string, number> = { person: 0, car: 2, truck: 7 };
const det = (label: string, score: number, box: Box): Detection => ({
  classId: CLASS_IDS[label] ?? 99,
  label,
  score,
  box,
});

describe('boxes, zones and tracking', () => {
  it('per-class NMS keeps the best of overlapping boxes of one class only', () => {
    const out = nmsPerClass(
      [det('person', 0.9, [0, 0, 10, 20]), det('person', 0.8, [1, 1, 11, 21]), det('car', 0.7, [1, 1, 11, 21])],
      0.45,
    );
    assert.deepEqual(
      out.map((d) => [d.label, d.score]),
      [
        ['person', 0.9],
        ['car', 0.7],
      ],
    );
    assert.equal(iou([0, 0, 10, 10], [20, 20, 30, 30]), 0);
  });

  it('zones and masks use the bottom centre of the box', () => {
    const driveway: [number, number][] = [
      [0, 0.5],
      [0.5, 0.5],
      [0.5, 1],
      [0, 1],
    ];
    assert.ok(insidePolygon(driveway, 0.25, 0.75));
    // Box whose top is outside but whose feet are inside the zone.
    assert.deepEqual(zonesOf([40, 10, 60, 80], [{ name: 'driveway', points: driveway }], 200, 100), ['driveway']);
    assert.deepEqual(zonesOf([140, 10, 160, 80], [{ name: 'driveway', points: driveway }], 200, 100), []);
    assert.equal(masked([40, 10, 60, 80], [driveway], 200, 100), true);
  });

  it('keeps one id for a moving object, votes on labels, and marks a parked one stationary', () => {
    const tr = new Tracker(defaultTrackerOptions);
    const ids = new Set<number>();
    let vanId = -1;
    for (let i = 0; i < 60; i++) {
      const t = i * 0.2;
      const x = 10 + i * 4; // walking right, 20 px/s
      const van = i % 2 === 0 ? 'car' : 'truck';
      const out = tr.update([det('person', 0.8, [x, 50, x + 20, 110]), det(van, 0.7, [300, 20, 380, 70])], t);
      ids.add(out[0]?.trackId ?? -1);
      vanId = out[1]?.trackId ?? -1;
      if (i === 10) assert.equal(out[0]?.confirmed, true);
    }
    assert.equal(ids.size, 1, 'one id for the walker');
    const van = tr.tracks().find((t) => t.id === vanId);
    assert.equal(van?.stationary, true);
    assert.ok(van?.label === 'car' || van?.label === 'truck');
    const walker = tr.tracks().find((t) => t.label === 'person');
    assert.equal(walker?.stationary, false);
    // The van unseen for 30 s (stationary objects are re-checked rarely) keeps its id.
    const later = tr.update([det('truck', 0.7, [301, 21, 381, 71])], 12 + 30);
    assert.equal(later[0]?.trackId, vanId);
  });
});
