import assert from 'node:assert/strict';

import { CameraRegistry, slugify, validateCamera } from '../../src/edge/cameras/registry.ts';
import { forbiddenHost, parseCameraUrl, withCredentials } from '../../src/edge/cameras/url.ts';
import { edgeMigrations, openEdgeDatabase } from '../../src/edge/schema.ts';
import { backoffDelay } from '../../src/shared/backoff.ts';
import type { FieldIssue } from '../../src/shared/errors.ts';
import { ValidationError } from '../../src/shared/errors.ts';
import { media } from '../helpers.ts';

function issuesOf(fn: () => unknown): FieldIssue[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e.issues;
    throw e;
  }
  assert.fail('expected a ValidationError');
}

describe('camera URLs', () => {
  it('accepts rtsp/rtsps streams and http(s) snapshots, separating credentials', () => {
    const issues: FieldIssue[] = [];
    const p = parseCameraUrl(
      'recordUrl',
      'rtsp://admin:p%40ss@192.168.1.20:554/Streaming/101',
      'rtsp',
      'stream',
      issues,
    );
    assert.deepEqual(issues, []);
    assert.deepEqual(p, { url: 'rtsp://192.168.1.20:554/Streaming/101', username: 'admin', password: 'p@ss' });
    assert.ok(parseCameraUrl('snapshotUrl', 'https://cam.local/snap.jpg', 'onvif', 'snapshot', issues));
    assert.equal(withCredentials('rtsp://h:554/x', 'admin', 'p@ss'), 'rtsp://admin:p%40ss@h:554/x');
  });

  it('rejects other schemes, option-like values, control characters, link-local and metadata hosts', () => {
    const cases: [string, 'rtsp' | 'file' | 'usb', RegExp][] = [
      ['http://cam/stream', 'rtsp', /rtsp:\/\/ or rtsps:\/\//],
      ['file:///etc/passwd', 'rtsp', /only allowed for cameras of kind "file"/],
      ['-rtsp_transport', 'rtsp', /must not start with "-"/],
      ['rtsp://cam/a b', 'rtsp', /spaces or control characters/],
      ['rtsp://cam/a\r\nx', 'rtsp', /control characters/],
      ['rtsp://169.254.169.254/latest', 'rtsp', /link-local/],
      ['rtsp://[fe80::1]/x', 'rtsp', /link-local/],
      ['rtsp://metadata.google.internal/x', 'rtsp', /metadata/],
      ['relative/path.mp4', 'file', /absolute/],
      ['/srv/../etc/x.mp4', 'file', /\.\./],
      ['/dev/sda', 'usb', /V4L2/],
    ];
    for (const [url, kind, message] of cases) {
      const issues: FieldIssue[] = [];
      assert.equal(parseCameraUrl('recordUrl', url, kind, 'stream', issues), undefined, url);
      assert.match(issues[0]?.message ?? '', message, url);
      assert.equal(issues[0]?.field, 'recordUrl');
    }
    assert.equal(forbiddenHost('127.0.0.1'), undefined);
    assert.equal(forbiddenHost('192.168.1.2'), undefined);
    assert.ok(forbiddenHost('::ffff:169.254.169.254'));
  });

  it('backoff grows exponentially, is capped, and is jittered', () => {
    const b = { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 };
    assert.equal(
      backoffDelay(0, b, () => 0.5),
      1000,
    );
    assert.equal(
      backoffDelay(3, b, () => 0.5),
      8000,
    );
    assert.equal(
      backoffDelay(20, b, () => 0.5),
      30_000,
    );
    assert.equal(
      backoffDelay(0, b, () => 0),
      800,
    );
    assert.equal(
      backoffDelay(0, b, () => 1),
      1200,
    );
  });
});

describe('camera registry', () => {
  const fresh = () => new CameraRegistry(openEdgeDatabase(':memory:'));

  it('lists every problem of a camera description at once', () => {
    const issues = issuesOf(() =>
      validateCamera({ name: '', kind: 'ftp', recordUrl: 'ftp://x', detectFps: 100, snapshotUrl: 'rtsp://x/y' }),
    );
    assert.deepEqual(issues.map((i) => i.field).sort(), ['detectFps', 'kind', 'name', 'recordUrl', 'snapshotUrl']);
  });

  it('stores credentials apart and never shows them', () => {
    const reg = fresh();
    const cam = reg.add({
      name: 'Front Door',
      kind: 'rtsp',
      recordUrl: 'rtsp://admin:hunter2@10.0.0.5:554/main',
      detectUrl: 'rtsp://10.0.0.5:554/sub',
    });
    assert.equal(cam.id, 'front-door');
    assert.equal(cam.recordUrl, 'rtsp://***@10.0.0.5:554/main');
    assert.equal(cam.detectUrl, 'rtsp://***@10.0.0.5:554/sub');
    assert.equal(cam.hasCredentials, true);
    assert.ok(!JSON.stringify(reg.list()).includes('hunter2'));
    const conn = reg.connection('front-door');
    assert.equal(conn.recordUrl, 'rtsp://admin:hunter2@10.0.0.5:554/main');
    assert.equal(conn.detectUrl, 'rtsp://admin:hunter2@10.0.0.5:554/sub');
    // Changing the name keeps the credentials.
    reg.update('front-door', { name: 'Porch' });
    assert.equal(reg.connection('front-door').recordUrl, 'rtsp://admin:hunter2@10.0.0.5:554/main');
  });

  it("a camera added without detectFps gets the configuration's detection.fps", () => {
    const reg = new CameraRegistry(openEdgeDatabase(':memory:'), { detectFps: 2 });
    assert.equal(reg.add({ name: 'Yard', kind: 'rtsp', recordUrl: 'rtsp://192.168.1.20/s' }).detectFps, 2);
    assert.equal(
      reg.add({ name: 'Gate', kind: 'rtsp', recordUrl: 'rtsp://192.168.1.21/s', detectFps: 4 }).detectFps,
      4,
    );
  });

  it('refuses duplicate ids and unknown cameras with clear errors', () => {
    const reg = fresh();
    reg.add({ name: 'Yard', kind: 'file', recordUrl: media.vtest });
    assert.throws(() => reg.add({ name: 'Yard', kind: 'file', recordUrl: media.vtest }), { code: 'CONFLICT' });
    assert.throws(() => reg.get('nope'), { code: 'NOT_FOUND' });
    assert.throws(() => reg.remove('nope'), { code: 'NOT_FOUND' });
    reg.remove('yard');
    assert.deepEqual(reg.list(), []);
  });

  it('records health and migrates a database once', () => {
    const db = openEdgeDatabase(':memory:');
    const reg = new CameraRegistry(db);
    reg.add({ id: 'cam1', name: 'One', kind: 'rtsp', recordUrl: 'rtsp://h/x' });
    assert.equal(reg.get('cam1').health.status, 'connecting');
    reg.setHealth('cam1', {
      status: 'online',
      lastSeen: 5,
      lastError: null,
      lastErrorCode: null,
      reconnects: 2,
      inputFps: 10,
      bitrateKbps: 512,
    });
    assert.equal(reg.get('cam1').health.status, 'online');
    assert.equal(reg.get('cam1').health.reconnects, 2);
    assert.equal(db.pragma('user_version', { simple: true }), edgeMigrations.at(-1)?.version);
    assert.equal(slugify('Garage Cam #2!'), 'garage-cam-2');
  });
});
