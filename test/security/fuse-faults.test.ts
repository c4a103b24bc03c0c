// Issue #20's fault suite: a failing disk under the whole data dir (database, WAL, recordings, snapshots, the
// demo's own server), made with faultfs (test/support/faultfs, a FUSE passthrough built by setup; this kernel has no
// device-mapper for dm-error). The kernel returns the errors to the real syscalls of both processes: first EIO on
// every create, write, fsync and truncate (a dying disk), then ENOSPC on the same (a full one), reads working
// throughout. Expected each time: nothing crashes, the camera stays online and says why recording paused, API writes
// answer 503 IO_ERROR or 507 DISK_FULL while reads answer, and once the disk is back everything resumes by itself;
// the events and finished recordings from before are intact. (io-error.test.ts does the same with an LD_PRELOAD
// shim, per path; disk-full.test.ts with a small tmpfs.)
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { projectRoot } from '../../src/shared/paths.ts';
import { tempDir } from '../helpers.ts';
import { assertKept, type DemoProcess, recordedSegments, startDemoProcess } from '../support/demo-process.ts';
import { freePort } from '../support/rtsp.ts';

const PASSWORD = 'fuse-fault-password-7';
const faultfs = join(projectRoot, '.vendor', 'bin', 'faultfs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) =>
  existsSync(`/proc/${pid}`) && !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a FUSE file system needs root (CI runs as root)';
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse on this machine';
  if (!existsSync(faultfs)) return 'faultfs is not built (needs Go; npm run setup builds it into .vendor/bin)';
  return undefined;
}

describe('a failing disk under the data dir, through FUSE: EIO, then ENOSPC (#20 fault suite)', function () {
  this.timeout(300_000);
  const skipReason = unavailable();
  const dir = tempDir('guardian-faultfs-');
  const backing = join(dir.path, 'disk');
  const mountpoint = join(dir.path, 'mnt');
  const dataDir = join(mountpoint, 'data');
  let fs: ChildProcess | undefined;
  let demo: DemoProcess | undefined;
  const setFault = (signal: 'SIGUSR1' | 'SIGUSR2' | 'SIGHUP') => fs?.kill(signal);

  before(async function () {
    if (skipReason) {
      console.log(`      skipped: ${skipReason}`);
      this.skip();
    }
    mkdirSync(backing);
    mkdirSync(mountpoint);
    fs = spawn(faultfs, [backing, mountpoint], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    fs.stdout?.on('data', (d) => {
      out += d;
    });
    for (let i = 0; i < 100 && !out.includes('mounted'); i++) await sleep(100);
    assert.match(out, /mounted/, 'faultfs mounted');
  });

  after(async () => {
    await demo?.stop();
    if (fs && fs.exitCode === null) {
      const exited = new Promise((r) => fs?.once('exit', r));
      fs.kill('SIGTERM');
      await exited;
    }
    spawnSync('umount', ['-l', mountpoint], { stdio: 'ignore' }); // if faultfs died without unmounting
    dir.remove();
  });

  it('survives a dying disk and a full one, reports each, keeps what it had, and recovers on its own', async () => {
    const port = await freePort();
    demo = await startDemoProcess({ dataDir, port, password: PASSWORD });
    const mainPid = demo.child.pid as number;
    const { cookie, csrf } = await demo.login();
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${demo?.base}${path}`, {
        method,
        headers: { cookie, 'x-csrf-token': csrf, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    type Cam = { status: string; recordingPaused: boolean; recordingReason: string | null };
    const status = async () =>
      (await (await call('GET', '/api/status')).json()) as { media: { pid: number }; cameras: Cam[] };
    const segments = () => recordedSegments(dataDir);
    let events: { id: string }[] = [];
    for (let i = 0; i < 160 && (events.length < 1 || segments().length < 2); i++) {
      await sleep(500);
      events = ((await (await call('GET', '/api/events')).json()) as { events: { id: string }[] }).events;
    }
    assert.ok(events.length >= 1 && segments().length >= 2, 'events and segments before the faults');
    const mediaPid = (await status()).media.pid;
    const eventId = events[0]?.id as string;
    const segmentsBefore = segments();
    const d = demo;
    d.child.once('exit', (code, signal) => console.log(`demo exited ${code ?? signal}:\n${d.output().slice(-3000)}`));

    const faults = [
      { signal: 'SIGUSR1', name: 'EIO', reason: /IO_ERROR|EIO|Input\/output/i, http: 503, code: /IO_ERROR/ },
      { signal: 'SIGUSR2', name: 'ENOSPC', reason: /DISK_FULL|ENOSPC|space/i, http: 507, code: /DISK_FULL/ },
    ] as const;
    const report: string[] = [];
    for (const f of faults) {
      const segmentsAtFault = segments().length;
      setFault(f.signal);
      const faultAt = Date.now();
      try {
        let cam: Cam | undefined;
        for (let i = 0; i < 60; i++) {
          await sleep(500);
          cam = (await status()).cameras[0];
          if (cam?.recordingPaused) break;
        }
        assert.ok(cam?.recordingPaused, `${f.name}: recording paused: ${JSON.stringify(cam)}`);
        assert.match(cam?.recordingReason ?? '', f.reason, `${f.name}: the reason`);
        assert.equal(cam?.status, 'online', `${f.name}: the camera is still online (detection goes on)`);
        const pausedAfter = Date.now() - faultAt;
        const write = await call('POST', `/api/events/${eventId}/protect`, { protected: true });
        const text = await write.text();
        assert.equal(write.status, f.http, `${f.name}: ${text}`);
        assert.match(text, f.code);
        assert.equal((await call('GET', '/api/events')).status, 200, `${f.name}: reads still answer`);
        await sleep(3000); // frames, heartbeats, events and telemetry keep coming with nowhere to write
        assert.ok(alive(mainPid) && alive(mediaPid), `${f.name}: nothing crashed`);
        report.push(`${f.name}: paused after ${(pausedAfter / 1000).toFixed(1)} s`);
      } finally {
        setFault('SIGHUP');
      }
      const backAt = Date.now();
      let ok = 0;
      let cam: Cam | undefined;
      for (let i = 0; i < 120; i++) {
        await sleep(500);
        ok = (await call('POST', `/api/events/${eventId}/protect`, { protected: true })).status;
        cam = (await status()).cameras[0];
        if (ok === 200 && cam && !cam.recordingPaused && segments().length > segmentsAtFault + 1) break;
      }
      assert.equal(ok, 200, `${f.name}: database writes work again`);
      assert.equal(cam?.recordingPaused, false, `${f.name}: recording resumed by itself`);
      report.push(`recovered ${((Date.now() - backAt) / 1000).toFixed(1)} s after the disk came back`);
    }
    assert.ok(alive(mainPid) && alive(mediaPid), 'the same processes all along');
    const listEvents = async () =>
      ((await (await call('GET', '/api/events?limit=500')).json()) as { events: { id: string }[] }).events;
    await assertKept(listEvents, events, dataDir, segmentsBefore);
    console.log(
      `      ${report.join('; ')}; ${segmentsBefore.length} earlier segments play, ${events.length} events kept`,
    );
  });
});
