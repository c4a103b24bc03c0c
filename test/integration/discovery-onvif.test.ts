// ONVIF end to end across a real network: a simulated ONVIF camera (WS-Discovery + SOAP services with
// WS-UsernameToken) and the GStreamer RTSP server in one namespace, Guardian in another: discover -> add -> online.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { projectRoot } from '../../src/shared/paths.ts';
import { createNetnsPair, type NetnsPair, netnsUnavailable } from '../support/netns.ts';
import { RtspServer, rtspServerAvailable } from '../support/rtsp.ts';

const run = promisify(execFile);
const ONVIF_PASSWORD = 'onvif-Secret-42';

describe('ONVIF discovery across network namespaces', function () {
  this.timeout(90_000);
  let net: NetnsPair | undefined;
  let rtsp: RtspServer | undefined;
  let device: ChildProcess | undefined;

  before(async function () {
    const missing = netnsUnavailable() ?? rtspServerAvailable();
    if (missing) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    net = createNetnsPair();
    rtsp = new RtspServer(8554, { host: net.a.ip, netns: net.a.ns, auth: `admin:${ONVIF_PASSWORD}` });
    await rtsp.start();
    const proc = spawn(
      'ip',
      [
        'netns',
        'exec',
        net.a.ns,
        process.execPath,
        '--import',
        'tsx',
        join(projectRoot, 'test', 'support', 'onvif_device.ts'),
        '--ip',
        net.a.ip,
        '--port',
        '8000',
        '--rtsp',
        `rtsp://${net.a.ip}:8554`,
      ],
      {
        cwd: projectRoot,
        env: { ...process.env, GUARDIAN_TEST_ONVIF_AUTH: `admin:${ONVIF_PASSWORD}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    device = proc;
    let err = '';
    proc.stderr?.on('data', (d) => {
      err += d;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ONVIF simulator did not start: ${err}`)), 20_000);
      proc.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('READY')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.on('exit', (code) => reject(new Error(`ONVIF simulator exited ${code}: ${err}`)));
    });
  });

  after(async () => {
    device?.kill('SIGKILL');
    await rtsp?.kill();
    net?.remove();
  });

  const inNvr = (args: string[], password: string) =>
    run('ip', ['netns', 'exec', net?.b.ns ?? '', process.execPath, ...args], {
      cwd: projectRoot,
      env: { ...process.env, GUARDIAN_ONVIF_USERNAME: 'admin', GUARDIAN_ONVIF_PASSWORD: password },
      maxBuffer: 16 << 20,
    });

  it('guardian discover --json finds the camera, its profiles and stream URIs', async () => {
    const { stdout } = await inNvr(
      [join(projectRoot, 'bin', 'guardian.mjs'), 'discover', '--json', '--timeout', '1500', '--no-usb'],
      ONVIF_PASSWORD,
    );
    assert.ok(!stdout.includes(ONVIF_PASSWORD), 'the password is not printed');
    const result = JSON.parse(stdout);
    assert.equal(result.onvif.length, 1, stdout);
    const d = result.onvif[0];
    assert.equal(d.error, null);
    assert.deepEqual([d.manufacturer, d.model, d.serial], ['Guardian Labs', 'SimCam 2', 'SIM-0042']);
    assert.equal(d.xaddr, `http://${net?.a.ip}:8000/onvif/device_service`);
    assert.deepEqual(
      d.profiles.map((p: { token: string; width: number; streamUri: string }) => [p.token, p.width, p.streamUri]),
      [
        ['main', 1920, `rtsp://${net?.a.ip}:8554/vtest-1080p`],
        ['sub', 768, `rtsp://${net?.a.ip}:8554/vtest`],
      ],
    );
    assert.equal(d.camera.recordUrl, `rtsp://${net?.a.ip}:8554/vtest-1080p`);
    assert.equal(d.camera.detectUrl, `rtsp://${net?.a.ip}:8554/vtest`);
    assert.equal(d.camera.snapshotUrl, `http://${net?.a.ip}:8000/snapshot.jpg`);
  });

  it('a wrong ONVIF password is reported as UNAUTHORIZED', async () => {
    const { stdout } = await inNvr(
      [join(projectRoot, 'bin', 'guardian.mjs'), 'discover', '--json', '--timeout', '1500', '--no-usb'],
      'wrong',
    );
    const d = JSON.parse(stdout).onvif[0];
    assert.equal(d.error?.code, 'UNAUTHORIZED', JSON.stringify(d.error));
    assert.equal(d.camera, null);
  });

  it('discover -> add -> online, without the password in logs or output', async () => {
    const { stdout } = await inNvr(
      ['--import', 'tsx', join(projectRoot, 'test', 'support', 'onvif_e2e.ts')],
      ONVIF_PASSWORD,
    );
    const result = JSON.parse(stdout);
    assert.equal(result.final.health.status, 'online', JSON.stringify(result.final.health));
    assert.ok(result.onlineAfterMs < 15_000);
    assert.equal(result.final.kind, 'onvif');
    assert.equal(result.final.detectUrl, `rtsp://***@${net?.a.ip}:8554/vtest`);
    assert.ok(!stdout.includes(ONVIF_PASSWORD), 'password absent from logs and API output');
  });
});
