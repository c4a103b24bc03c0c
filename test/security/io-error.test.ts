// Issue #20's fault suite: EIO on the recording and database paths, one path at a time. This kernel has no
// device-mapper (no dm-error target); fuse-faults.test.ts fails the whole disk through FUSE, and this test, with a
// small LD_PRELOAD shim (test/support/eio_shim.c, compiled here), each path on its own: while a trigger file exists, opening a file under the data dir for
// writing fails with EIO (a new recording segment, snapshot or clip cannot be created) or every pwrite() does
// (SQLite's writes). Expected: nothing crashes, the camera stays online and says why recording paused, API writes answer
// 503 IO_ERROR and reads still work, recordings and events from before are intact, and both paths work again by
// themselves once the disk does.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { projectRoot } from '../../src/shared/paths.ts';
import { tempDir } from '../helpers.ts';
import { assertKept, type DemoProcess, recordedSegments, startDemoProcess } from '../support/demo-process.ts';
import { freePort } from '../support/rtsp.ts';

const PASSWORD = 'eio-test-password-5';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) =>
  existsSync(`/proc/${pid}`) && !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

describe('EIO on the recording and database paths (#20 fault suite)', function () {
  this.timeout(240_000);
  const dir = tempDir('guardian-eio-');
  const dataDir = join(dir.path, 'data');
  let demo: DemoProcess | undefined;

  const triggers = join(dir.path, 'faults');
  const shim = join(dir.path, 'eio_shim.so');
  const fault = (kind: 'open' | 'pwrite', on: boolean) =>
    on ? writeFileSync(join(triggers, kind), '') : rmSync(join(triggers, kind), { force: true });

  before(function () {
    try {
      mkdirSync(triggers);
      execFileSync('gcc', [
        '-shared',
        '-fPIC',
        '-O1',
        '-o',
        shim,
        join(projectRoot, 'test', 'support', 'eio_shim.c'),
        '-ldl',
      ]);
    } catch (err) {
      console.log(`      skipped: the fault layer cannot be compiled (${(err as Error).message.split('\n')[0]})`);
      this.skip();
    }
  });
  after(async () => {
    await demo?.stop();
    dir.remove();
  });

  const segments = () => recordedSegments(dataDir);

  it('survives, reports, keeps what it had, and recovers on its own', async () => {
    const port = await freePort();
    demo = await startDemoProcess({
      dataDir,
      port,
      password: PASSWORD,
      env: { LD_PRELOAD: shim, GUARDIAN_EIO_DIR: triggers, GUARDIAN_EIO_PREFIX: dataDir },
    });
    const mainPid = demo.child.pid as number;
    const { base } = demo;
    const { cookie, csrf } = await demo.login();
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${base}${path}`, {
        method,
        headers: { cookie, 'x-csrf-token': csrf, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    type Cam = {
      id: string;
      status: string;
      recording: boolean;
      recordingPaused: boolean;
      recordingReason: string | null;
    };
    const status = async () =>
      (await (await call('GET', '/api/status')).json()) as { media: { pid: number }; cameras: Cam[] };
    let events: { id: string }[] = [];
    for (let i = 0; i < 160 && (events.length < 1 || segments().length < 2); i++) {
      await sleep(500);
      events = ((await (await call('GET', '/api/events')).json()) as { events: { id: string }[] }).events;
    }
    assert.ok(events.length >= 1 && segments().length >= 2, 'events and segments before the faults');
    const mediaPid = (await status()).media.pid;
    const segmentsBefore = segments();

    // 1. The recording path: no new file can be created under the data dir.
    fault('open', true);
    let cam: Cam | undefined;
    for (let i = 0; i < 60; i++) {
      await sleep(500);
      cam = (await status()).cameras[0];
      if (cam?.recordingPaused) break;
    }
    assert.ok(cam?.recordingPaused, `recording paused: ${JSON.stringify(cam)}`);
    assert.match(cam?.recordingReason ?? '', /IO_ERROR|EIO|Input\/output/i);
    assert.equal(cam?.status, 'online', 'the camera itself is still online (detection goes on)');
    assert.ok(alive(mediaPid) && alive(mainPid), 'nothing crashed');
    fault('open', false);
    for (let i = 0; i < 60; i++) {
      await sleep(500);
      cam = (await status()).cameras[0];
      if (cam && !cam.recordingPaused && segments().length > segmentsBefore.length + 1) break;
    }
    assert.equal(cam?.recordingPaused, false, 'recording resumed by itself');

    const d = demo;
    d.child.once('exit', (code, signal) => console.log(`demo exited ${code ?? signal}:\n${d.output().slice(-3000)}`));
    // 2. The database path: every pwrite() fails (SQLite's; the media process writes with write()).
    const eventId = events[0]?.id as string;
    fault('pwrite', true);
    try {
      const write = await call('POST', `/api/events/${eventId}/protect`, { protected: true });
      const text = await write.text();
      assert.equal(write.status, 503, text);
      assert.match(text, /IO_ERROR/);
      const read = await call('GET', '/api/events');
      assert.equal(read.status, 200, 'reads still answer');
      await sleep(3000); // frames, heartbeats and events keep coming with nowhere to write
      assert.ok(alive(mainPid) && alive(mediaPid), 'nothing crashed');
    } finally {
      fault('pwrite', false);
    }
    let ok = 0;
    for (let i = 0; i < 20 && ok !== 200; i++) {
      ok = (await call('POST', `/api/events/${eventId}/protect`, { protected: true })).status;
      if (ok !== 200) await sleep(500);
    }
    assert.equal(ok, 200, 'database writes work again');
    const listEvents = async () =>
      ((await (await call('GET', '/api/events?limit=500')).json()) as { events: { id: string }[] }).events;
    await assertKept(listEvents, events, dataDir, segmentsBefore);
  });
});
