// `guardian demo` end to end, as a user and as an attacker: events with snapshots and clips within a minute, login,
// CSRF, paths, a malformed configuration, and kill -9 of the media process.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import Database from 'better-sqlite3';

import { decryptFile } from '../../src/shared/archive/format.ts';
import { projectRoot } from '../../src/shared/paths.ts';
import { execFileAsync, tempDir } from '../helpers.ts';
import { freePort } from '../support/rtsp.ts';

const PASSWORD = 'correct-horse-battery';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const guardian = join(projectRoot, 'bin', 'guardian.mjs');

interface Session {
  cookie: string;
  csrf: string;
}

describe('guardian demo (edge appliance end to end)', function () {
  this.timeout(240_000);
  const dir = tempDir();
  // Under a dot-directory, like ~/.cache/guardian: every file the database names must still be served.
  const dataDir = join(dir.path, '.cache', 'guardian');
  let demo: ChildProcess;
  let base: string;
  let session: Session;
  let startedAt: number;
  let output = '';
  let endedEventId = '';
  let stopping = false;

  const api = (path: string, init: RequestInit & { session?: Session | null } = {}) => {
    const { session: s = session, headers, ...rest } = init;
    return fetch(`${base}${path}`, {
      ...rest,
      headers: { ...(s ? { cookie: s.cookie } : {}), ...(headers as Record<string, string>) },
    });
  };

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    startedAt = Date.now();
    demo = spawn(
      process.execPath,
      [guardian, 'demo', '--data-dir', dataDir, '--port', String(port), '--admin-password', PASSWORD, '--no-open'],
      {
        cwd: projectRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    demo.stdout?.on('data', (d) => {
      output += d;
    });
    demo.stderr?.on('data', (d) => {
      output += d;
    });
    // A demo that dies during the tests says why (the later tests would only see ECONNREFUSED).
    demo.once('exit', (code, signal) => {
      if (!stopping)
        console.error(`guardian demo exited (${code ?? signal}) during the tests:\n${output.slice(-5000)}`);
    });
    for (let i = 0; i < 300 && !output.includes('Guardian demo is running'); i++) await sleep(100);
    assert.match(output, /Guardian demo is running/);
    const res = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: PASSWORD }),
    });
    assert.equal(res.status, 200);
    const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]);
    assert.ok(res.headers.getSetCookie().some((c) => /guardian_session=.*HttpOnly.*SameSite=Strict/i.test(c)));
    session = { cookie: cookies.join('; '), csrf: (await res.json()).csrf };
  });

  after(async () => {
    stopping = true;
    demo?.kill('SIGTERM');
    await new Promise((r) => (demo?.exitCode !== null ? r(null) : demo?.once('exit', r)));
    dir.remove();
  });

  it('within 60 s: a person event with a valid JPEG snapshot and a clip that plays and honours Range', async () => {
    type Ev = {
      id: string;
      cameraId: string;
      label: string;
      snapshot: string | null;
      startMs: number;
      endMs: number | null;
    };
    let event = undefined as Ev | undefined;
    // A finished event: its clip covers the whole event with pre- and post-roll.
    while (Date.now() - startedAt < 60_000 && !event) {
      const res = await api('/api/events?label=person&camera=demo-street');
      assert.equal(res.status, 200);
      const body = (await res.json()) as { events: Ev[] };
      event = body.events.find((e) => e.snapshot && e.endMs && e.endMs < Date.now() - 8000);
      if (!event) await sleep(1000);
    }
    assert.ok(event, `a person event within 60 s\n${output}`);
    endedEventId = event.id;
    assert.ok(Date.now() - startedAt < 60_000);
    const snap = await api(`/api/events/${event.id}/snapshot.jpg`);
    assert.equal(snap.status, 200);
    assert.equal(snap.headers.get('content-type'), 'image/jpeg');
    const jpeg = Buffer.from(await snap.arrayBuffer());
    writeFileSync(join(dir.path, 'snap.jpg'), jpeg);
    const { stdout: dims } = await execFileAsync('ffprobe', [
      '-v',
      'error',
      '-show_entries',
      'stream=codec_name,width,height',
      '-of',
      'csv=p=0',
      join(dir.path, 'snap.jpg'),
    ]);
    assert.equal(dims.trim(), 'mjpeg,768,576');

    const clip = await api(`/api/events/${event.id}/clip.mp4`);
    assert.equal(clip.status, 200);
    assert.equal(clip.headers.get('accept-ranges'), 'bytes');
    const mp4 = Buffer.from(await clip.arrayBuffer());
    writeFileSync(join(dir.path, 'clip.mp4'), mp4);
    const { stdout: probe } = await execFileAsync('ffprobe', [
      '-v',
      'error',
      '-count_frames',
      '-show_entries',
      'stream=codec_name,nb_read_frames:format=duration',
      '-of',
      'json',
      join(dir.path, 'clip.mp4'),
    ]);
    const info = JSON.parse(probe);
    assert.equal(info.streams[0].codec_name, 'h264');
    const eventSeconds = ((event.endMs ?? 0) - event.startMs) / 1000;
    assert.ok(
      Number(info.format.duration) >= eventSeconds + 5,
      `clip of ${info.format.duration} s for an event of ${eventSeconds} s`,
    );
    const range = await api(`/api/events/${event.id}/clip.mp4`, { headers: { Range: 'bytes=100-1099' } });
    assert.equal(range.status, 206);
    assert.equal(range.headers.get('content-range'), `bytes 100-1099/${mp4.length}`);
    assert.deepEqual(Buffer.from(await range.arrayBuffer()), mp4.subarray(100, 1100));
    const download = await api(`/api/events/${event.id}/clip.mp4?download=1`);
    assert.equal(download.status, 200, await download.clone().text());
    assert.match(download.headers.get('content-disposition') ?? '', /attachment; filename="?demo-street-person-/);
  });

  it('a file the database names but the disk lost answers 404 NOT_FOUND', async () => {
    const ev = (await (await api(`/api/events/${endedEventId}`)).json()) as { thumbnail: string };
    assert.ok(ev.thumbnail);
    assert.equal((await api(`/api/events/${endedEventId}/thumbnail.jpg`)).status, 200);
    rmSync(join(dataDir, ev.thumbnail));
    const gone = await api(`/api/events/${endedEventId}/thumbnail.jpg`);
    assert.equal(gone.status, 404);
    assert.equal(((await gone.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });

  it("delivers the events to the demo's own server (the user VM), which relays the clip", async () => {
    const vmUrl = /your server \(VM\): (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    assert.ok(vmUrl, output);
    const token = readFileSync(join(dataDir, 'vm', 'api-token'), 'utf8').trim();
    const auth = { Authorization: `Bearer ${token}` };
    const edgeEvents = (await (await api('/api/events?camera=demo-street')).json()) as { events: { id: string }[] };
    const first = edgeEvents.events.at(-1);
    assert.ok(first);
    let cached: { eventId: string; edgeId: string } | undefined;
    for (let i = 0; i < 50 && !cached; i++) {
      const res = await fetch(`${vmUrl}/api/events/${first.id}`, { headers: auth });
      if (res.ok) cached = (await res.json()) as typeof cached;
      else await sleep(200);
    }
    assert.equal(cached?.eventId, first.id);
    const status = (await (await api('/api/status')).json()) as { link: { connected: boolean; tunnel: boolean } };
    assert.deepEqual([status.link.connected, status.link.tunnel], [true, false]);
    assert.equal((await fetch(`${vmUrl}/api/events`)).status, 401, 'the VM API needs its token');
    const local = Buffer.from(await (await api(`/api/events/${endedEventId}/clip.mp4`)).arrayBuffer());
    const relayed = await fetch(`${vmUrl}/api/events/${endedEventId}/clip`, { headers: auth });
    assert.equal(relayed.status, 200);
    assert.ok(Buffer.from(await relayed.arrayBuffer()).equals(local), 'the VM relays the same clip bytes');
  });

  it("archives each finished event to the demo's server encrypted: the server holds ciphertext only, the owner's secret opens it", async () => {
    const vmUrl = /your server \(VM\): (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    const auth = { Authorization: `Bearer ${readFileSync(join(dataDir, 'vm', 'api-token'), 'utf8').trim()}` };
    type VmEvent = { archived?: { clip?: boolean; snapshot?: boolean; metadata?: boolean } };
    let archived: VmEvent['archived'];
    for (let i = 0; i < 120 && !(archived?.clip && archived.snapshot && archived.metadata); i++) {
      archived = ((await (await fetch(`${vmUrl}/api/events/${endedEventId}`, { headers: auth })).json()) as VmEvent)
        .archived;
      if (!archived?.clip) await sleep(500);
    }
    assert.deepEqual(archived, { clip: true, snapshot: true, metadata: true }, 'clip, snapshot and metadata archived');
    const edgeView = (await (await api(`/api/events/${endedEventId}`)).json()) as { archive: Record<string, string> };
    assert.deepEqual(edgeView.archive, { clip: 'stored', snapshot: 'stored', metadata: 'stored' });
    const stored = Buffer.from(
      await (await fetch(`${vmUrl}/api/events/${endedEventId}/archive/clip`, { headers: auth })).arrayBuffer(),
    );
    const secret = readFileSync(join(dataDir, 'archive.secret'), 'utf8');
    assert.ok(!stored.includes(Buffer.from(secret.trim())), 'no secret on the server');
    writeFileSync(join(dir.path, 'clip.gdna'), stored);
    await decryptFile(join(dir.path, 'clip.gdna'), join(dir.path, 'clip-from-archive.mp4'), secret);
    const local = Buffer.from(await (await api(`/api/events/${endedEventId}/clip.mp4`)).arrayBuffer());
    assert.ok(readFileSync(join(dir.path, 'clip-from-archive.mp4')).equals(local), 'the archived clip is the clip');
    // Nothing of the MP4 is in clear on the server: not its 'ftyp' box with brand, not its first 64 bytes.
    assert.ok(!stored.includes(local.subarray(4, 12)) && !stored.includes(local.subarray(0, 64)), 'no MP4 in clear');
    // A range of the ciphertext is served with HTTP Range, for players that decrypt segment by segment.
    const part = await fetch(`${vmUrl}/api/events/${endedEventId}/archive/clip`, {
      headers: { ...auth, Range: 'bytes=0-99' },
    });
    assert.equal(part.status, 206);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), stored.subarray(0, 100));
  });

  it('refuses requests without login, cross-site or CSRF-less changes, and path tricks', async () => {
    for (const p of ['/api/events', '/api/cameras', '/api/metrics', '/api/config', '/api/openapi.json', '/api/status'])
      assert.equal((await api(p, { session: null })).status, 401, p);
    assert.equal((await api('/api/health', { session: null })).status, 200);
    const camera = JSON.stringify({ name: 'Side', kind: 'rtsp', recordUrl: 'rtsp://192.168.1.9/stream' });
    const json = { 'content-type': 'application/json' };
    assert.equal(
      (await api('/api/cameras', { method: 'POST', body: camera, headers: json })).status,
      403,
      'no CSRF token',
    );
    assert.equal(
      (
        await api('/api/cameras', {
          method: 'POST',
          body: camera,
          headers: { ...json, 'x-csrf-token': session.csrf, origin: 'https://evil.example' },
        })
      ).status,
      403,
      'cross-site',
    );
    for (const p of [
      '/api/events/..%2F..%2F..%2Fetc%2Fpasswd',
      '/api/events/%2Fetc%2Fpasswd/snapshot.jpg',
      '/api/events/..%2Fguardian.db/clip.mp4',
      '/api/cameras/..%2F..%2Fetc',
      '/api/screenshots/..%2F..%2Fguardian.db/image',
      '/api/events?camera=..%2F..%2Fetc',
    ]) {
      const status = (await api(p)).status;
      assert.ok(status === 400 || status === 404, `${p} -> ${status}`);
    }
    const bad = await api('/api/cameras', {
      method: 'POST',
      headers: { ...json, 'x-csrf-token': session.csrf },
      body: JSON.stringify({ name: '', kind: 'rtsp', recordUrl: 'file:///etc/passwd' }),
    });
    assert.equal(bad.status, 400);
    const issues = ((await bad.json()) as { error: { issues: { field: string }[] } }).error.issues
      .map((i) => i.field)
      .sort();
    assert.deepEqual(issues, ['name', 'recordUrl']);
    const malformed = await api('/api/cameras', {
      method: 'POST',
      headers: { ...json, 'x-csrf-token': session.csrf },
      body: '{"name":',
    });
    assert.equal(malformed.status, 400);
  });

  it('API tokens work for scripts; the OpenAPI document and Prometheus metrics are served', async () => {
    const res = await api('/api/auth/tokens', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf },
      body: JSON.stringify({ name: 'backup script' }),
    });
    assert.equal(res.status, 200);
    const { token } = (await res.json()) as { token: string };
    const events = await fetch(`${base}/api/events?limit=1`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(events.status, 200);
    assert.equal((await fetch(`${base}/api/events`, { headers: { authorization: 'Bearer gdn_forged' } })).status, 401);
    const doc = (await (await api('/api/openapi.json')).json()) as { openapi: string; paths: Record<string, unknown> };
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/api/events/{id}/clip.mp4'] && doc.paths['/api/cameras'] && doc.paths['/api/config']);
    const metrics = await (await api('/api/metrics')).text();
    assert.match(metrics, /guardian_camera_online\{camera="demo-street"\} 1/);
    assert.match(metrics, /guardian_camera_inference_ms\{camera="demo-street"\}/);
    const current = (await (await api('/api/config')).json()) as Record<string, Record<string, unknown>>;
    const fieldsOf = async (res: Response) =>
      ((await res.json()) as { error: { issues: { field: string }[] } }).error.issues.map((i) => i.field).sort();
    const putBad = await api('/api/config', {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf },
      body: JSON.stringify({ ...current, detection: { ...current.detection, backend: 'tpu', fps: 100 }, bogus: 1 }),
    });
    assert.equal(putBad.status, 400);
    assert.deepEqual(await fieldsOf(putBad), ['(root)', 'detection.backend', 'detection.fps']);
    // A PUT of one section would reset all the others to their defaults (cameras' settings, retention...): refused,
    // naming what is missing; PATCH changes just that section.
    const partial = await api('/api/config', {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf },
      body: JSON.stringify({ events: current.events }),
    });
    assert.equal(partial.status, 400);
    const missing = await fieldsOf(partial);
    assert.ok(
      missing.includes('cameras') && missing.includes('recording') && !missing.includes('events'),
      missing.join(),
    );
    const patched = await api('/api/config', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf },
      body: JSON.stringify({ events: { endAfterSeconds: 7 } }),
    });
    assert.equal(patched.status, 200);
    const after = ((await patched.json()) as { config: typeof current }).config;
    assert.equal(after.events?.endAfterSeconds, 7);
    assert.deepEqual(after.cameras, current.cameras, 'other sections kept');
    assert.deepEqual({ ...after.events, endAfterSeconds: current.events?.endAfterSeconds }, current.events);
    const restore = await api('/api/config', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf },
      body: JSON.stringify({ events: { endAfterSeconds: current.events?.endAfterSeconds } }),
    });
    assert.equal(restore.status, 200);
  });

  it('saved settings apply at once: backend swapped live, segment length and retention without a media restart', async () => {
    const before = (await (await api('/api/status')).json()) as { media: { pid: number; backend: { name: string } } };
    const config = (await (await api('/api/config')).json()) as {
      detection: Record<string, unknown>;
      recording: Record<string, unknown>;
    };
    const next = {
      ...config,
      detection: { ...config.detection, backend: 'openvino', threads: 1 },
      recording: { ...config.recording, segmentSeconds: 4, continuousDays: 3 },
    };
    const put = await api('/api/config', {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf },
      body: JSON.stringify(next),
    });
    assert.equal(put.status, 200);
    const body = (await put.json()) as {
      config: { recording: { segmentSeconds: number } };
      applied: { live: string[]; restartedCameras: string[]; backend: { name: string } };
    };
    assert.equal(body.config.recording.segmentSeconds, 4);
    assert.ok(
      body.applied.live.includes('detection.backend') && body.applied.live.includes('recording.continuousDays'),
    );
    assert.deepEqual(body.applied.restartedCameras, ['recording.segmentSeconds']);
    const after = (await (await api('/api/status')).json()) as {
      media: { pid: number; backend: { name: string } };
      cameras: { status: string }[];
    };
    assert.equal(after.media.pid, before.media.pid, 'no media process restart');
    assert.equal(after.media.backend.name, body.applied.backend.name);
    assert.notEqual(body.applied.backend.name, before.media.backend.name, 'the other backend runs now');
    // New segments follow the new length.
    const db = new Database(join(dataDir, 'guardian.db'), { readonly: true });
    const savedAt = Date.now();
    let lengths: number[] = [];
    for (let i = 0; i < 60 && lengths.length < 2; i++) {
      await sleep(500);
      lengths = db
        .prepare('SELECT duration FROM segments WHERE start_ms > ? ORDER BY start_ms')
        .pluck()
        .all(savedAt) as number[];
    }
    db.close();
    assert.ok(lengths.length >= 2, 'segments after the change');
    assert.ok((lengths[0] ?? 0) <= 5.5, `a ${lengths[0]} s segment after setting 4 s`);
  });

  it('the main process is the only database writer: the media process holds no database, and a hung one stalls no write', async () => {
    const { media } = (await (await api('/api/status')).json()) as { media: { pid: number } };
    const open = readdirSync(`/proc/${media.pid}/fd`).flatMap((fd) => {
      try {
        return [readlinkSync(`/proc/${media.pid}/fd/${fd}`)];
      } catch {
        return [];
      }
    });
    assert.ok(
      !open.some((f) => f.includes('guardian.db')),
      `the media process has ${open.filter((f) => f.includes('.db'))}`,
    );
    process.kill(media.pid, 'SIGSTOP'); // hung (in libav, say)
    try {
      const t0 = performance.now();
      const res = await api(`/api/events/${endedEventId}/protect`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf },
        body: JSON.stringify({ protected: true }),
      });
      assert.equal(res.status, 200);
      assert.ok(performance.now() - t0 < 1000, 'the write did not wait for the media process');
    } finally {
      process.kill(media.pid, 'SIGCONT');
    }
  });

  it('kill -9 of the media process: it is restarted, recording resumes, events are neither duplicated nor left open', async () => {
    const status = async () =>
      (await (await api('/api/status')).json()) as {
        media: { pid: number; restarts: number; running: boolean };
        cameras: { status: string; recording: boolean }[];
      };
    const before = await status();
    if (before.media.restarts > 0)
      console.log(
        `      note: the media process had restarted ${before.media.restarts} time(s) before this test:\n${output
          .split('\n')
          .filter((l) => /media process|stopped answering/.test(l))
          .join('\n')}`,
      );
    const db = new Database(join(dataDir, 'guardian.db'), { readonly: true });
    const segmentsBefore = db.prepare('SELECT count(*) FROM segments').pluck().get() as number;
    const killedAt = Date.now();
    process.kill(before.media.pid, 'SIGKILL');
    let after = await status();
    // Counted from `before`: under load the previous test's SIGSTOP can outlast the heartbeat timeout, and the
    // watchdog then restarts the media process once already (a fresh-clone CI run saw the old pid here).
    while (
      (after.media.restarts <= before.media.restarts ||
        after.media.pid === before.media.pid ||
        !after.media.running ||
        after.cameras[0]?.status !== 'online') &&
      Date.now() - killedAt < 30_000
    ) {
      await sleep(300);
      after = await status();
    }
    assert.equal(after.media.restarts, before.media.restarts + 1);
    assert.notEqual(after.media.pid, before.media.pid);
    assert.equal(after.cameras[0]?.status, 'online');
    // Recording resumes: new segments after the restart.
    const t0 = Date.now();
    let newSegments = 0;
    while (Date.now() - t0 < 30_000 && !newSegments) {
      newSegments = db.prepare('SELECT count(*) FROM segments WHERE start_ms > ?').pluck().get(killedAt) as number;
      await sleep(500);
    }
    assert.ok(newSegments > 0, 'a segment recorded after the restart');
    assert.ok((db.prepare('SELECT count(*) FROM segments').pluck().get() as number) > segmentsBefore);
    // Events open at the kill were ended, not left open or duplicated.
    const stale = db
      .prepare('SELECT count(*) FROM events WHERE end_ms IS NULL AND start_ms < ?')
      .pluck()
      .get(killedAt) as number;
    assert.equal(stale, 0);
    const dup = db
      .prepare(
        'SELECT count(*) FROM (SELECT camera_id, track_id, start_ms FROM events GROUP BY 1, 2, 3 HAVING count(*) > 1)',
      )
      .pluck()
      .get() as number;
    assert.equal(dup, 0);
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    db.close();
  });

  it('login is rate limited', async () => {
    let last = 0;
    for (let i = 0; i < 12; i++) {
      last = (
        await fetch(`${base}/api/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ password: 'wrong' }),
        })
      ).status;
    }
    assert.equal(last, 429);
  });
});

describe('guardian edge configuration errors', () => {
  it('a malformed configuration lists every problem and exits non-zero', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'bad.yaml');
      writeFileSync(file, 'dataDir: relative/path\nhttp:\n  port: 99999\ndetection:\n  backend: tpu\ncolour: blue\n');
      await assert.rejects(
        promisify(execFile)(process.execPath, [guardian, 'edge', '--config', file]),
        (e: { code: number; stderr: string }) => {
          assert.equal(e.code, 2);
          for (const f of ['dataDir', 'http.port', 'detection.backend', 'unknown key(s): colour'])
            assert.ok(e.stderr.includes(f), `${f} in ${e.stderr}`);
          assert.match(e.stderr, /4 problem/);
          return true;
        },
      );
    } finally {
      dir.remove();
    }
  });
});
