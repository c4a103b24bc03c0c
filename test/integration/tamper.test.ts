// `guardian tamper FILE --json` on the sample videos with each kind of tampering synthesised by FFmpeg at times the
// test picks, and on the unmodified samples and on lighting changes and noise (rain), which must raise nothing.
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { type Edge, startEdge } from '../../src/edge/runtime.ts';
import { validateConfig } from '../../src/shared/config.ts';
import { createLogger } from '../../src/shared/log.ts';
import { execFileAsync, guardianCli, media, tempDir } from '../helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Interval {
  kind: string;
  startS: number;
  endS: number;
}

// Each clip: 36 s of vtest.mp4 (768x576, 10 fps) with one fault over [from, to] seconds.
const between = (from: number, to: number) => `enable='between(t,${from},${to})'`;
const faults: { kind: string; from: number; to: number; args: (from: number, to: number) => string[] }[] = [
  {
    // A bag or a hand: 92 % of the picture one flat colour.
    kind: 'covered',
    from: 10,
    to: 22,
    args: (a, b) => ['-vf', `drawbox=x=0:y=0:w=iw:h=ih*0.92:color=0x705848:t=fill:${between(a, b)}`],
  },
  { kind: 'defocused', from: 12, to: 25, args: (a, b) => ['-vf', `gblur=sigma=20:${between(a, b)}`] },
  {
    // Re-aimed: the view jumps 12 % of its width to the side (the whole clip is cropped, so only the aim changes).
    kind: 'moved',
    from: 14,
    to: 28,
    args: (a, b) => ['-vf', `crop=w=iw*0.88:h=ih*0.88:x='if(between(t,${a},${b}),iw*0.12,0)':y=0,scale=768:576`],
  },
  // The light drops to a fifth (the scene stays visible, so it is dark, not covered).
  { kind: 'dark', from: 11, to: 24, args: (a, b) => ['-vf', `lutyuv=y=val*0.2:${between(a, b)}`] },
  {
    // The camera repeats one frame (frame numbers at 10 fps).
    kind: 'frozen',
    from: 13,
    to: 26,
    args: (a, b) => [
      '-filter_complex',
      `[0:v]split[a][b];[a][b]freezeframes=first=${a * 10}:last=${b * 10}:replace=${a * 10}`,
    ],
  },
];

// Not tamper: lights off (to 55 %) and on again, lights brighter than before (clipped), then heavy sensor noise
// (rain, snow, a dirty night picture) over the whole frame.
const harmless = [
  '-vf',
  [
    `lutyuv=y=val*0.55:${between(6, 14)}`,
    `lutyuv=y=min(255\\,val*1.35+10):${between(18, 26)}`,
    `noise=alls=60:allf=t+u:${between(28, 36)}`,
  ].join(','),
];

async function encode(out: string, args: string[], seconds = 36): Promise<void> {
  await execFileAsync('ffmpeg', [
    ...['-v', 'error', '-y', '-t', String(seconds), '-i', media.vtest, ...args],
    ...['-an', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '26', '-pix_fmt', 'yuv420p', '-threads', '2', out],
  ]);
}

async function scan(file: string): Promise<{ events: Interval[]; frames: number; msPerFrame: { p50: number } }> {
  const r = await guardianCli(['tamper', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('guardian tamper', function () {
  this.timeout(240_000);
  const dir = tempDir('guardian-tamper-');
  const clips = new Map<string, string>();
  let results: Map<string, Awaited<ReturnType<typeof scan>>>;

  before(async () => {
    // Encode everything at once (FFmpeg's own threads share the two cores), then scan two files at a time.
    const jobs = [...faults.map((f) => [f.kind, f.args(f.from, f.to)] as const), ['harmless', harmless] as const];
    await Promise.all(
      jobs.map(async ([name, args]) => {
        const out = join(dir.path, `${name}.mp4`);
        await encode(out, [...args]);
        clips.set(name, out);
      }),
    );
    const files: [string, string][] = [
      ...clips.entries(),
      ['vtest', media.vtest],
      ['vtest1080', media.vtest1080],
      ['city', media.city],
    ];
    results = new Map();
    for (let i = 0; i < files.length; i += 2)
      await Promise.all(
        files.slice(i, i + 2).map(async ([name, file]) => {
          results.set(name, await scan(file));
        }),
      );
  });
  after(() => dir.remove());

  for (const f of faults)
    it(`${f.kind}: one event from ${f.from} s to ${f.to} s, nothing else`, () => {
      const r = results.get(f.kind);
      assert.ok(r, 'scanned');
      assert.equal(r.events.length, 1, JSON.stringify(r.events));
      const [e] = r.events as [Interval];
      assert.equal(e.kind, f.kind, JSON.stringify(r.events));
      // Reported from when the picture changed (the event itself is confirmed a few seconds later) to when it
      // was back.
      assert.ok(e.startS >= f.from - 0.5 && e.startS <= f.from + 3, `start ${e.startS} for ${f.from}`);
      assert.ok(e.endS >= f.to - 0.5 && e.endS <= f.to + 3, `end ${e.endS} for ${f.to}`);
    });

  it('lighting changes and heavy noise are not tamper', () => {
    assert.deepEqual(results.get('harmless')?.events, []);
  });

  // city-no-people.mp4 is a 7.6-s stock shot with a moving camera and a cut: nothing in it lasts long enough to
  // start (a camera that kept panning would be `moved` after 6 s).
  for (const name of ['vtest', 'vtest1080', 'city'])
    it(`the unmodified ${name} sample raises nothing (people, cars, a moving shot)`, () => {
      const r = results.get(name);
      assert.ok(r && r.frames > 30, `${r?.frames} frames`);
      assert.deepEqual(r.events, []);
    });

  it('is cheap: well under 5 ms of detector time per frame', () => {
    for (const [name, r] of results) assert.ok(r.msPerFrame.p50 < 5, `${name}: ${r.msPerFrame.p50} ms`);
  });

  it('prints a short list without --json; errors are coded', async () => {
    const text = await guardianCli(['tamper', clips.get('covered') as string]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /1 tamper event\n\s+covered\s+10\.\d s – 22\.\d s/);
    const missing = await guardianCli(['tamper', '/no/such/file.mp4', '--json']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /^guardian: .*\[NOT_FOUND\]\n$/);
    const bad = await guardianCli(['tamper', media.city, '--fps', 'lots']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--fps.*\[INVALID_ARGUMENT\]/);
  });
});

describe('tamper events on the running edge', function () {
  this.timeout(120_000);
  const dir = tempDir('guardian-tamper-edge-');
  let edge: Edge;
  let auth: Record<string, string>;
  const get = async <T>(path: string) => {
    const res = await fetch(`${edge.url}${path}`, { headers: auth });
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    return (await res.json()) as T;
  };

  before(async () => {
    // A file camera (played in real time, looped) whose lens is covered from 5 s to 13 s of its 24 s.
    const clip = join(dir.path, 'porch.mp4');
    await encode(clip, ['-vf', `drawbox=x=0:y=0:w=iw:h=ih:color=0x303030:t=fill:${between(5, 13)}`], 24);
    edge = await startEdge(
      validateConfig({
        dataDir: join(dir.path, 'data'),
        http: { host: '127.0.0.1', port: 0 },
        cameraSources: { mediaDirs: [dir.path] },
      }),
      {
        log: createLogger({ level: 'silent' }),
      },
    );
    auth = { authorization: `Bearer ${edge.ctx.auth.createApiToken('test').token}` };
    const added = await fetch(`${edge.url}/api/cameras`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'porch', name: 'Porch', kind: 'file', recordUrl: clip, detectFps: 5 }),
    });
    assert.equal(added.status, 201, await added.text());
  });
  after(async () => {
    await edge?.stop();
    dir.remove();
  });

  it('a covered camera: its runtime says so (still online), a `tamper` event with a snapshot starts and ends, both in the outbox', async () => {
    type Runtime = { status: string; tamper: string | null };
    type Ev = {
      id: string;
      label: string;
      labels: string[];
      startMs: number;
      endMs: number | null;
      snapshot?: unknown;
    };
    let seen: Runtime | null = null;
    let events: Ev[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 60_000) {
      const cam = await get<{ runtime: Runtime | null }>('/api/cameras/porch');
      if (cam.runtime?.tamper) seen = cam.runtime;
      events = (await get<{ events: Ev[] }>('/api/events?label=tamper')).events;
      if (seen && events[0]?.endMs) break;
      await sleep(250);
    }
    assert.deepEqual(seen, { ...seen, status: 'online', tamper: 'covered' }, 'tampered, not offline');
    assert.equal(events.length, 1, JSON.stringify(events));
    const [ev] = events as [Ev];
    assert.deepEqual([ev.label, ev.labels], ['tamper', ['covered']]);
    // Covered for 8 s of the clip (from the change to the picture's return, by the media clock).
    const ms = (ev.endMs ?? 0) - ev.startMs;
    assert.ok(ms > 6000 && ms < 11_000, `${ms} ms`);
    const status = await get<{ cameras: Runtime[] }>('/api/status');
    assert.ok(
      status.cameras.every((c) => 'tamper' in c),
      'the status lists every camera with its tamper state',
    );
    const snap = await fetch(`${edge.url}/api/events/${ev.id}/snapshot.jpg`, { headers: auth });
    assert.equal(snap.status, 200);
    assert.equal(snap.headers.get('content-type'), 'image/jpeg');
    const kinds = edge.ctx.db
      .prepare('SELECT kind FROM outbox WHERE ref = ? ORDER BY id')
      .pluck()
      .all(ev.id) as string[];
    assert.deepEqual(
      kinds.filter((k) => k !== 'event.update'),
      ['event.start', 'event.end'],
    );
  });
});
