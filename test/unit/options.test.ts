import assert from 'node:assert/strict';

import { classifySource, MediaError, tensorPresets } from '../../bindings/index.ts';
import { validateSourceOptions } from '../../bindings/options.ts';
import { redactUrl } from '../../src/shared/redact.ts';

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
    assert.equal(redactUrl('rtsp://host/path@x'), 'rtsp://host/path@x');
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
