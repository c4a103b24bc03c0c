import assert from 'node:assert/strict';

import { classifySource, GuardianError, MediaError, MotionDetector, tensorPresets } from '../../bindings/index.ts';
import {
  motionDefaults,
  validateClipOptions,
  validateCropRegion,
  validateMotionOptions,
  validateMotionPlane,
  validateSnapshot,
  validateSourceOptions,
} from '../../bindings/options.ts';
import { redactUrl as bindingsRedactUrl } from '../../bindings/redact.ts';
import { redactUrl } from '../../src/shared/redact.ts';

/** Asserts fn throws INVALID_ARGUMENT from TypeScript with a message naming `field`. */
function rejects(fn: () => unknown, field: string, label: string) {
  assert.throws(
    fn,
    (e: unknown) => {
      assert.ok(e instanceof GuardianError, `${label}: expected a GuardianError, got ${e}`);
      assert.equal(e.code, 'INVALID_ARGUMENT', `${label}: ${e.message}`);
      assert.ok(e.message.includes(field), `${label}: "${e.message}" should name ${field}`);
      return true;
    },
    label,
  );
}

/** Values that must be refused for a numeric field: not a number, NaN, infinite, negative. */
const NOT_NUMBERS: unknown[] = ['1', null, true, [1], {}, Number.NaN, Number.POSITIVE_INFINITY, -1];

describe('source options', () => {
  it('classifies files, RTSP URLs and V4L2 devices', () => {
    assert.equal(classifySource('/tmp/a.mp4').kind, 'file');
    assert.equal(classifySource('rtsp://cam/stream').kind, 'rtsp');
    assert.equal(classifySource('rtsps://cam:322/stream').kind, 'rtsp');
    assert.equal(classifySource('/dev/video2').kind, 'v4l2');
  });

  it('refuses option-like values, control characters and other schemes with a clear message', () => {
    for (const bad of ['-i', 'rtsp://cam/a\nb', 'http://cam/x', 'file:///etc/passwd', 'concat:a|b', '']) {
      assert.throws(
        () => classifySource(bad),
        (e: unknown) => e instanceof MediaError && e.code === 'INVALID_ARGUMENT' && e.message.length > 10,
        bad,
      );
    }
  });

  it('redacts credentials in labels', () => {
    const { label } = classifySource('rtsp://admin:s3cret@10.0.0.2:554/live');
    assert.equal(label, 'rtsp://***@10.0.0.2:554/live');
    assert.equal(redactUrl('failed rtsp://u:p@h/x and rtsps://a@b/c'), 'failed rtsp://***@h/x and rtsps://***@b/c');
    // An "@" in a path cannot be told from one in a raw password: the rule hides up to the last one.
    assert.equal(redactUrl('rtsp://host/path@x'), 'rtsp://***@x');
    // The app and bindings/ use one rule (src/shared/redact.ts re-exports it): both redact alike.
    for (const text of ['failed rtsp://u:p@h/x and rtsps://a@b/c', 'rtsp://host/path@x', 'HTTP://U:P@H/ x', 'none'])
      assert.equal(bindingsRedactUrl(text), redactUrl(text), text);
  });

  it('names the field and the expected form in validation errors', () => {
    assert.throws(() => validateSourceOptions('/a.mp4', { fps: -1 }), /fps/);
    assert.throws(
      () => validateSourceOptions('/a.mp4', { hwaccel: 'cuda' as 'auto' }),
      /one of auto, vaapi, none for hwaccel/,
    );
    assert.throws(() => validateSourceOptions('/a.mp4', { tensor: { size: 0 } }), /tensor\.size/);
    assert.throws(() => validateSourceOptions('/a.mp4', { tensor: { size: 8, std: [1, 0, 1] } }), /tensor\.std/);
    assert.throws(() => validateSourceOptions('/a.mp4', { vaapiDevice: '/etc/passwd' }), /vaapiDevice/);
  });

  it('refuses mistyped booleans and v4l2 settings, naming the field', () => {
    for (const field of ['decode', 'realtime', 'loop'] as const)
      for (const bad of ['yes', 1, null])
        rejects(() => validateSourceOptions('/a.mp4', { [field]: bad as never }), field, `${field}=${String(bad)}`);
    rejects(() => validateSourceOptions('/dev/video0', { v4l2: 'x' as never }), 'v4l2', 'v4l2 string');
    rejects(() => validateSourceOptions('/dev/video0', { v4l2: { videoSize: '1 x 2' } }), 'v4l2.videoSize', 'size');
  });

  it('fills in every field the addon requires (it has no defaults of its own)', () => {
    const v = validateSourceOptions('/a.mp4', { tensor: { size: 320 }, record: { dir: '/r', camera: 'c' } });
    for (const key of [
      'url',
      'label',
      'transport',
      'connectTimeoutMs',
      'readTimeoutMs',
      'hwaccel',
      'threads',
      'sampleFps',
      'motionWidth',
      'backpressure',
      'queueSize',
      'realtime',
      'loop',
      'snapshotFrames',
      'decode',
    ] as const)
      assert.notEqual(v[key], undefined, key);
    assert.deepEqual(v.tensor, {
      size: 320,
      resize: 'letterbox',
      pad: 114,
      channels: 'bgr',
      layout: 'nchw-float32',
      mean: [0, 0, 0],
      std: [1, 1, 1],
    });
    assert.deepEqual(v.record, { dir: '/r', camera: 'c', segmentSeconds: 10 });
  });

  it('defaults to never dropping frames of files and to dropping for live sources', () => {
    assert.equal(validateSourceOptions('/a.mp4').backpressure, 'wait');
    assert.equal(validateSourceOptions('rtsp://h/x').backpressure, 'drop');
    assert.equal(validateSourceOptions('rtsp://h/x').queueSize, 1);
  });

  it('has tensor presets matching the shipped models', () => {
    assert.deepEqual(
      { size: tensorPresets.yolox.size, resize: tensorPresets.yolox.resize, pad: tensorPresets.yolox.pad },
      { size: 416, resize: 'letterbox', pad: 114 },
    );
    assert.equal(tensorPresets.nanodet.size, 320);
    assert.equal(tensorPresets.nanodet.resize, 'stretch');
  });
});

describe('motion detector options', () => {
  it('fills in the defaults and keeps what is given', () => {
    assert.deepEqual(validateMotionOptions(), motionDefaults);
    assert.deepEqual(validateMotionOptions({}), {
      threshold: 30,
      minArea: 0.0005,
      alpha: 0.02,
      recalibrateFraction: 0.6,
      dilate: 2,
      mask: [],
    });
    const mask: [number, number][][] = [
      [
        [0, 0],
        [1, 0],
        [0.5, 1],
      ],
    ];
    assert.deepEqual(validateMotionOptions({ threshold: 5, minArea: 0, alpha: 1, dilate: 0, mask }), {
      ...motionDefaults,
      threshold: 5,
      minArea: 0,
      alpha: 1,
      dilate: 0,
      mask,
    });
    // Extra keys (the pipeline passes its `enabled` flag along) are ignored, as before.
    assert.equal(validateMotionOptions({ enabled: true } as never).threshold, 30);
  });

  it('refuses NaN, negative, out-of-range and mistyped values, naming the field', () => {
    const cases: [keyof typeof motionDefaults, unknown[]][] = [
      ['threshold', [...NOT_NUMBERS, 0, 256, 30.5]],
      ['minArea', [...NOT_NUMBERS, 1.5]],
      ['alpha', [...NOT_NUMBERS, 0, 1.01]],
      ['recalibrateFraction', [...NOT_NUMBERS, 0, 2]],
      ['dilate', [...NOT_NUMBERS, 17, 1.5]],
    ];
    for (const [field, values] of cases)
      for (const bad of values)
        rejects(() => validateMotionOptions({ [field]: bad }), field, `${field}=${String(bad)}`);
    rejects(() => validateMotionOptions(null as never), 'motion options', 'null options');
  });

  it('refuses malformed masks, naming the polygon and point', () => {
    const square: [number, number][] = [
      [0, 0],
      [1, 0],
      [1, 1],
    ];
    rejects(() => validateMotionOptions({ mask: 'all' as never }), 'mask', 'string mask');
    rejects(() => validateMotionOptions({ mask: [square, [[0, 0]]] }), 'mask[1]', 'polygon of one point');
    rejects(() => validateMotionOptions({ mask: ['x' as never] }), 'mask[0]', 'polygon not an array');
    for (const bad of [[0.5], [0.5, Number.NaN], [-0.1, 0.5], [0.5, 1.2], ['0', 0], null])
      rejects(
        () => validateMotionOptions({ mask: [[...square, bad as never]] }),
        'mask[0][3]',
        `point ${JSON.stringify(bad)}`,
      );
  });

  it('refuses a bad plane before it reaches C++', () => {
    const data = new Uint8Array(16);
    rejects(() => validateMotionPlane({ data: [1, 2] as never, width: 1, height: 2 }), 'plane.data', 'array data');
    for (const bad of [...NOT_NUMBERS, 0, 4097, 1.5]) {
      rejects(() => validateMotionPlane({ data, width: bad as never, height: 4 }), 'plane.width', `width=${bad}`);
      rejects(() => validateMotionPlane({ data, width: 4, height: bad as never }), 'plane.height', `height=${bad}`);
    }
    rejects(() => validateMotionPlane({ data, width: 8, height: 4 }), 'plane.data', 'too short');
    assert.equal(validateMotionPlane({ data, width: 4, height: 4 }).width, 4);
  });

  it('MotionDetector validates in TypeScript, in the constructor, configure() and detect()', () => {
    rejects(() => new MotionDetector({ threshold: Number.NaN }), 'threshold', 'constructor');
    const m = new MotionDetector();
    rejects(() => m.configure({ alpha: -1 }), 'alpha', 'configure');
    rejects(() => m.detect({ data: new Uint8Array(4), width: 4, height: 4 }), 'plane.data', 'detect');
    m.configure({ threshold: 40 });
    assert.deepEqual(m.detect({ data: new Uint8Array(16), width: 4, height: 4 }).boxes, []);
  });
});

describe('frame arguments: cropTensor, snapshot, exportClip', () => {
  const region = { x: 0, y: 0, width: 64, height: 64 };

  it('accepts a frame index and a region of integers at least 2x2', () => {
    assert.deepEqual(validateCropRegion(3, { x: 10, y: 20, width: 2, height: 65_535 }), {
      index: 3,
      x: 10,
      y: 20,
      width: 2,
      height: 65_535,
    });
  });

  it('refuses a bad crop index or region, naming the field', () => {
    for (const bad of [...NOT_NUMBERS, 1.5, undefined])
      rejects(() => validateCropRegion(bad, region), 'index', `index=${bad}`);
    for (const field of ['x', 'y', 'width', 'height'] as const)
      for (const bad of [...NOT_NUMBERS, 2.5, 65_536, undefined])
        rejects(() => validateCropRegion(0, { ...region, [field]: bad }), `region.${field}`, `${field}=${String(bad)}`);
    for (const field of ['width', 'height'] as const)
      for (const bad of [0, 1])
        rejects(() => validateCropRegion(0, { ...region, [field]: bad }), `region.${field}`, `${field}=${bad}`);
    for (const bad of [null, 'all', 5]) rejects(() => validateCropRegion(0, bad), 'region', `region=${String(bad)}`);
  });

  it('refuses bad snapshot arguments, naming the field', () => {
    assert.deepEqual(validateSnapshot({}), { index: -1, width: 0, quality: 85 });
    for (const bad of ['1', Number.NaN, 0.5])
      rejects(() => validateSnapshot({ index: bad as never }), 'index', `index=${bad}`);
    for (const bad of [...NOT_NUMBERS, 8193, 1.5])
      rejects(() => validateSnapshot({ width: bad as never }), 'width', `width=${bad}`);
    for (const bad of [...NOT_NUMBERS, 0, 101])
      rejects(() => validateSnapshot({ quality: bad as never }), 'quality', `quality=${bad}`);
  });

  it('refuses bad clip arguments, naming the field', () => {
    const ok = { inputs: ['/r/a.mp4'], start: 0, end: 5, output: '/r/clip.mp4' };
    assert.deepEqual(validateClipOptions(ok), ok);
    for (const bad of [[], ['a.mp4'], [1], 'x'])
      rejects(() => validateClipOptions({ ...ok, inputs: bad }), 'inputs', `inputs=${bad}`);
    for (const bad of [Number.NaN, -1, '0', 5, 6])
      rejects(() => validateClipOptions({ ...ok, start: bad }), 'start', `start=${bad}`);
    for (const bad of [Number.NaN, 0, '9', Number.POSITIVE_INFINITY])
      rejects(() => validateClipOptions({ ...ok, end: bad }), 'end', `end=${bad}`);
    for (const bad of ['clip.mp4', 3, undefined])
      rejects(() => validateClipOptions({ ...ok, output: bad }), 'output', `output=${bad}`);
  });

  it('MediaError is GuardianError (one class, one list of codes)', () => {
    assert.equal(MediaError, GuardianError);
    assert.ok(new MediaError('TIMEOUT', 'x') instanceof GuardianError);
  });
});
