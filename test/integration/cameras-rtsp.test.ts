// Camera supervision against a real RTSP server (GStreamer's, on loopback): online, killed, back, wrong path/password.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';

import { CameraManager } from '../../src/edge/cameras/manager.ts';
import { CameraRegistry, type CameraStatus } from '../../src/edge/cameras/registry.ts';
import { defaultRecordingConfig, RecordingService } from '../../src/edge/recording/service.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import { createLogger } from '../../src/shared/log.ts';
import { projectRoot } from '../../src/shared/paths.ts';
import { ffprobeFrameCount, tempDir } from '../helpers.ts';
import { freePort, RtspServer, rtspServerAvailable } from '../support/rtsp.ts';

const PASSWORD = 'Sup3r-Secret_pw';

function capturedLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination }), lines };
}

async function waitFor(reg: CameraRegistry, id: string, status: CameraStatus, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (reg.get(id).health.status === status) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${id} not ${status} after ${timeoutMs} ms: ${JSON.stringify(reg.get(id).health)}`);
}

describe('cameras over RTSP (GStreamer RTSP server)', function () {
  this.timeout(120_000);
  let server: RtspServer;
  let port: number;

  before(async function () {
    const missing = rtspServerAvailable();
    if (missing) {
      console.log(`      skipped: ${missing}; npm run setup installs it`);
      this.skip();
    }
    port = await freePort();
    server = new RtspServer(port, { auth: `admin:${PASSWORD}` });
    await server.start();
  });
  after(async () => {
    await server?.kill();
  });

  it('comes online, goes offline when the server dies, and is back within 5 s of its return', async () => {
    const { log, lines } = capturedLogger();
    const dir = tempDir();
    const db = openEdgeDatabase(join(dir.path, 'guardian.db'));
    const reg = new CameraRegistry(db);
    reg.add({
      id: 'porch',
      name: 'Porch',
      kind: 'rtsp',
      recordUrl: server.url('vtest', `admin:${PASSWORD}`),
      detectFps: 5,
    });
    const recording = new RecordingService(
      db,
      {
        ...defaultRecordingConfig(join(dir.path, 'recordings')),
        segmentSeconds: 2,
        disk: { minFreeBytes: 0, minFreeMinutes: 0 },
      },
      log,
    );
    const stallTimeoutMs = 3000;
    const manager = new CameraManager(
      reg,
      log,
      { stallTimeoutMs, connectTimeoutMs: 3000, backoff: { initialMs: 200, maxMs: 1000, factor: 2, jitter: 0.2 } },
      recording,
    );
    manager.start();
    try {
      await waitFor(reg, 'porch', 'online', 15_000);
      await new Promise((r) => setTimeout(r, 2500));
      const health = reg.get('porch').health;
      assert.ok((health.inputFps ?? 0) > 5, `measured input fps ${health.inputFps}`);
      assert.ok((health.bitrateKbps ?? 0) > 50, `measured bitrate ${health.bitrateKbps} kb/s`);

      await server.kill();
      const offlineAfter = await waitFor(reg, 'porch', 'offline', stallTimeoutMs + 2000);
      assert.ok(offlineAfter <= stallTimeoutMs + 1000, `offline after ${offlineAfter} ms`);
      await new Promise((r) => setTimeout(r, 1500)); // stays down a while: reconnect attempts fail
      assert.notEqual(reg.get('porch').health.status, 'online');

      const recordedBefore = recording.index.list('porch');
      await server.start();
      const returnedAt = Date.now();
      const backAfter = await waitFor(reg, 'porch', 'online', 5000);
      assert.ok(backAfter < 5000, `online again ${backAfter} ms after the server returned`);
      assert.ok(reg.get('porch').health.reconnects >= 1);
      // Recordings on both sides of the outage: what was recorded before stays valid, recording resumes after.
      const t0 = Date.now();
      while (!recording.index.list('porch').some((x) => x.startMs > returnedAt) && Date.now() - t0 < 10_000)
        await new Promise((r) => setTimeout(r, 200));
      const known = new Set(recordedBefore.map((x) => x.id));
      const after = recording.index.list('porch').filter((x) => !known.has(x.id) && x.startMs > returnedAt - 2000);
      const before = recordedBefore.filter((x) => recording.index.get(x.id));
      assert.ok(
        before.length >= 1 && after.length >= 1,
        `${before.length} segments before the outage, ${after.length} after`,
      );
      for (const seg of [...before, ...after]) assert.ok((await ffprobeFrameCount(recording.index.absolute(seg))) > 0);
    } finally {
      await manager.stop();
    }
    const all = lines.join('');
    assert.match(all, /camera online/);
    assert.match(all, /camera offline/);
    assert.ok(!all.includes(PASSWORD), 'the password never appears in logs');
    assert.ok(!JSON.stringify(reg.list()).includes(PASSWORD), 'nor in what the API returns');
    db.close();
    dir.remove();
  });

  it('reports wrong path, wrong password and refused connection distinctly', async () => {
    const { log, lines } = capturedLogger();
    const reg = new CameraRegistry(openEdgeDatabase(':memory:'));
    const closedPort = await freePort();
    reg.add({
      id: 'badpath',
      name: 'Bad path',
      kind: 'rtsp',
      recordUrl: server.url('nothing-here', `admin:${PASSWORD}`),
    });
    reg.add({ id: 'badpass', name: 'Bad password', kind: 'rtsp', recordUrl: server.url('vtest', 'admin:wrong-Pa55') });
    reg.add({ id: 'refused', name: 'Refused', kind: 'rtsp', recordUrl: `rtsp://127.0.0.1:${closedPort}/x` });
    const manager = new CameraManager(reg, log, {
      stallTimeoutMs: 3000,
      connectTimeoutMs: 3000,
      backoff: { initialMs: 5000, maxMs: 5000, factor: 1, jitter: 0 },
    });
    manager.start();
    try {
      await waitFor(reg, 'badpath', 'error', 10_000);
      await waitFor(reg, 'badpass', 'error', 10_000);
      await waitFor(reg, 'refused', 'offline', 10_000);
    } finally {
      await manager.stop();
    }
    assert.equal(reg.get('badpath').health.lastErrorCode, 'NOT_FOUND');
    assert.match(reg.get('badpath').health.lastError ?? '', /404/);
    assert.equal(reg.get('badpass').health.lastErrorCode, 'UNAUTHORIZED');
    assert.match(reg.get('badpass').health.lastError ?? '', /401/);
    assert.equal(reg.get('refused').health.lastErrorCode, 'CONNECTION_REFUSED');
    const everything = lines.join('') + JSON.stringify(reg.list());
    assert.ok(
      !everything.includes(PASSWORD) && !everything.includes('wrong-Pa55'),
      'no password in logs or API output',
    );
    assert.match(reg.get('badpass').health.lastError ?? '', /rtsp:\/\/\*\*\*@127\.0\.0\.1/);
  });

  it('guardian probe works against the RTSP server', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [
      join(projectRoot, 'bin', 'guardian.mjs'),
      'probe',
      server.url('vtest-1080p', `admin:${PASSWORD}`),
      '--json',
    ]);
    const info = JSON.parse(stdout);
    assert.deepEqual([info.codec, info.width, info.height, info.live], ['h264', 1920, 1080, true]);
  });
});
