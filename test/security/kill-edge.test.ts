// Issue #20's fault suite: kill -9 of the edge's main process (the demo, with its own server in the same process)
// while it detects, records and delivers. Afterwards: no orphaned media process; restarted on the same data dir,
// every event the API had shown is still there, the events the kill left open are ended (here and on the server),
// everything reaches the owner's server, and every recording segment on disk plays.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { ffprobeSegment, tempDir } from '../helpers.ts';
import { type DemoProcess, recordedSegments, startDemoProcess } from '../support/demo-process.ts';
import { freePort } from '../support/rtsp.ts';

const PASSWORD = 'kill-test-password-9';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) =>
  existsSync(`/proc/${pid}`) && !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

interface Ev {
  id: string;
  endMs: number | null;
}

describe('kill -9 of the edge main process (#20 fault suite)', function () {
  this.timeout(240_000);
  const dir = tempDir('guardian-kill-edge-');
  const dataDir = join(dir.path, 'data');
  let demo: DemoProcess | undefined;
  let port = 0;
  const segments = () => recordedSegments(dataDir);

  const start = async () => {
    demo = await startDemoProcess({ dataDir, port, password: PASSWORD });
    const { cookie } = await demo.login();
    return async <T>(path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { cookie } });
      assert.equal(res.status, 200, path);
      return (await res.json()) as T;
    };
  };

  after(async () => {
    await demo?.stop();
    dir.remove();
  });

  it('loses no event, leaves none open, delivers all, and every segment on disk plays', async () => {
    port = await freePort();
    let api = await start();
    // Until there are events, one of them still open (someone on the street), and a few segments.
    let before: Ev[] = [];
    for (let i = 0; i < 160; i++) {
      before = (await api<{ events: Ev[] }>('/api/events?limit=500')).events;
      if (before.length >= 2 && before.some((e) => e.endMs === null) && segments().length >= 2) break;
      await sleep(500);
    }
    assert.ok(
      before.some((e) => e.endMs === null),
      `an open event to interrupt (${before.length} events)`,
    );
    const mediaPid = (await api<{ media: { pid: number } }>('/api/status')).media.pid;
    assert.ok(alive(mediaPid));

    const exited = new Promise((r) => demo?.child.once('exit', r));
    demo?.child.kill('SIGKILL');
    await exited;
    // The media process sees its parent go and exits on its own: nothing is left holding the camera or the disk.
    for (let i = 0; i < 100 && alive(mediaPid); i++) await sleep(100);
    assert.equal(alive(mediaPid), false, 'no orphaned media process');

    api = await start();
    const after = new Map((await api<{ events: Ev[] }>('/api/events?limit=500')).events.map((e) => [e.id, e]));
    for (const e of before) {
      const now = after.get(e.id);
      assert.ok(now, `event ${e.id} survived`);
      if (e.endMs === null) {
        assert.notEqual(now.endMs, null, `event ${e.id}, open at the kill, is ended`);
        assert.ok((now.endMs as number) >= 0);
      }
    }
    // Everything reaches the owner's server, ends included.
    const vmUrl = /your server \(VM\): (http:\/\/127\.0\.0\.1:\d+)/.exec(demo?.output() ?? '')?.[1];
    assert.ok(vmUrl, demo?.output());
    const auth = { authorization: `Bearer ${readFileSync(join(dataDir, 'vm', 'api-token'), 'utf8').trim()}` };
    let missing: string[] = [];
    for (let i = 0; i < 120; i++) {
      const cached = (
        (await (await fetch(`${vmUrl}/api/events?limit=1000`, { headers: auth })).json()) as {
          events: { eventId: string; endTimestamp: number | null }[];
        }
      ).events;
      const byId = new Map(cached.map((c) => [c.eventId, c]));
      missing = before
        .filter((e) => !byId.has(e.id) || (e.endMs === null && byId.get(e.id)?.endTimestamp === null))
        .map((e) => e.id);
      if (!missing.length) break;
      await sleep(500);
    }
    assert.deepEqual(missing, [], 'every event, and the end of each interrupted one, is on the server');
    // The segment being written at the kill was salvaged at restart: every file on disk plays.
    for (let i = 0; i < 100 && segments().length < 3; i++) await sleep(200); // this run's first segment
    const files = segments();
    assert.ok(files.length >= 3, `${files.length} segments`);
    // The newest is being written by this run.
    const newest = files.reduce((a, b) => (statSync(a).mtimeMs > statSync(b).mtimeMs ? a : b));
    for (const f of files.filter((x) => x !== newest)) {
      const probe = await ffprobeSegment(f);
      assert.ok(probe.frames > 0 && probe.firstKey, `${f} plays from a keyframe (${JSON.stringify(probe)})`);
    }
  });
});
