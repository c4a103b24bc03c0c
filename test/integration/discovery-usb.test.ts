// USB discovery. There is no camera device on this machine, so the sysfs and /dev trees are synthesised here;
// the real V4L2 query is exercised on a non-V4L2 file to check its error path.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { MediaError, queryV4l2 } from '../../bindings/index.ts';
import { listUsbCameras, watchUsbCameras } from '../../src/edge/discovery/usb.ts';
import { tempDir } from '../helpers.ts';

function fakeNode(root: string, node: string, name: string, index: number) {
  const dir = join(root, 'sys', 'class', 'video4linux', node);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'name'), `${name}\n`);
  writeFileSync(join(dir, 'index'), `${index}\n`);
  writeFileSync(join(root, 'dev', node), '');
}

describe('USB camera discovery (synthesised sysfs and /dev: no camera device exists here)', function () {
  this.timeout(20_000);
  const dir = tempDir();
  const sysfsRoot = join(dir.path, 'sys');
  const devRoot = join(dir.path, 'dev');
  before(() => {
    mkdirSync(devRoot, { recursive: true });
    fakeNode(dir.path, 'video0', 'HD Pro Webcam C920', 0);
    fakeNode(dir.path, 'video1', 'HD Pro Webcam C920', 1); // UVC metadata node
    fakeNode(dir.path, 'video2', 'USB2.0 PC CAMERA', 0);
  });
  after(() => dir.remove());

  it('the real V4L2 query refuses a file that is not a device, with a clear error', async () => {
    await assert.rejects(queryV4l2(join(devRoot, 'video0')), (e: unknown) => {
      assert.ok(e instanceof MediaError);
      assert.equal(e.code, 'UNSUPPORTED_INPUT');
      assert.match(e.message, /not a V4L2 device/);
      return true;
    });
    await assert.rejects(queryV4l2('/dev/../etc/passwd'), { code: 'INVALID_ARGUMENT' });
  });

  it('lists capture nodes with names and ready-to-use camera entries, skipping metadata nodes', async () => {
    const cams = await listUsbCameras({ sysfsRoot, devRoot });
    assert.deepEqual(
      cams.map((c) => [c.device, c.name]),
      [
        [join(devRoot, 'video0'), 'HD Pro Webcam C920'],
        [join(devRoot, 'video2'), 'USB2.0 PC CAMERA'],
      ],
    );
    assert.deepEqual(cams[0]?.camera, {
      id: 'usb-hd-pro-webcam-c920-video0',
      name: 'HD Pro Webcam C920',
      kind: 'usb',
      recordUrl: '/dev/video0',
      detectFps: 5,
    });
    assert.match(cams[0]?.queryError ?? '', /not a V4L2 device/);
  });

  it('uses the V4L2 answer when there is one: capture-capable only, with formats', async () => {
    const cams = await listUsbCameras({
      sysfsRoot,
      devRoot,
      // Stands in for the kernel's VIDIOC_QUERYCAP/ENUM_FMT answers of a C920.
      query: async (device) => ({
        driver: 'uvcvideo',
        card: 'HD Pro Webcam C920',
        busInfo: 'usb-0000:00:14.0-1',
        capture: !device.endsWith('video2'),
        streaming: true,
        formats: [{ fourcc: 'MJPG', description: 'Motion-JPEG', sizes: ['1920x1080', '1280x720'] }],
      }),
    });
    assert.equal(cams.length, 2, 'video0 and video1 capture; video2 does not');
    assert.equal(cams[0]?.driver, 'uvcvideo');
    assert.deepEqual(cams[0]?.formats[0]?.sizes, ['1920x1080', '1280x720']);
  });

  it('notices a camera plugged in and one removed while running', async () => {
    const changes: { added: string[]; removed: string[] }[] = [];
    const stop = watchUsbCameras((c) => changes.push({ added: c.added.map((a) => a.device), removed: c.removed }), {
      sysfsRoot,
      devRoot,
    });
    try {
      await new Promise((r) => setTimeout(r, 300));
      fakeNode(dir.path, 'video4', 'Logitech BRIO', 0);
      const t0 = Date.now();
      while (!changes.some((c) => c.added.includes(join(devRoot, 'video4'))) && Date.now() - t0 < 5000)
        await new Promise((r) => setTimeout(r, 50));
      assert.ok(
        changes.some((c) => c.added.includes(join(devRoot, 'video4'))),
        JSON.stringify(changes),
      );
      rmSync(join(devRoot, 'video2'));
      while (!changes.some((c) => c.removed.includes(join(devRoot, 'video2'))) && Date.now() - t0 < 10_000)
        await new Promise((r) => setTimeout(r, 50));
      assert.ok(
        changes.some((c) => c.removed.includes(join(devRoot, 'video2'))),
        JSON.stringify(changes),
      );
    } finally {
      stop();
    }
  });
});
