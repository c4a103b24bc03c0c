// Issue #20, item 3: secrets and evidence readable by any local user. The attack was a plain `cat` by another account:
// the data dir was 0755 and guardian.db (camera credentials), its -wal, snapshots, clips, recordings and the
// configuration 0644. Tests run as root here, so "another user cannot read it" is checked by mode bits (no group or
// other bit on anything), not by trying as another user. Also: a symbolic link placed in the data dir is not served.
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';

import YAML from 'yaml';

import { type Edge, startEdge } from '../../src/edge/runtime.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import { createSecret, writeSecretFile } from '../../src/shared/archive/format.ts';
import { validateConfig } from '../../src/shared/config.ts';
import { secureDataDir, servableFile } from '../../src/shared/fs-perms.ts';
import { createLogger } from '../../src/shared/log.ts';
import { media, tempDir } from '../helpers.ts';
import { until } from '../support/vm_archive.ts';
import { VmProcess } from '../support/vm_process.ts';

const isRoot = process.getuid?.() === 0;
const mode = (path: string) => lstatSync(path).mode & 0o777;
const octal = (m: number) => m.toString(8).padStart(4, '0');

/** Every directory and file under `root` (symbolic links not followed) with a group or other bit, with its mode. */
function openEntries(root: string): string[] {
  const found: string[] = [];
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return;
    if (st.mode & 0o077) found.push(`${relative(root, p) || '.'} ${octal(st.mode & 0o777)}`);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  walk(root);
  return found;
}

function filesUnder(root: string, predicate: (rel: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    for (const e of readdirSync(p, { withFileTypes: true })) {
      const full = join(p, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile() && predicate(relative(root, full))) out.push(full);
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

/** A logger whose lines (JSON) a test can read. */
function capturingLogger() {
  const lines: { level: number; msg: string; path?: string }[] = [];
  const log = createLogger({
    level: 'info',
    tty: false,
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  return { log, lines, warnings: () => lines.filter((l) => l.level === 40) };
}

/** The edge's API token for a test, whichever shape createApiToken returns (a string, or a record with it). */
function apiToken(edge: Edge): string {
  const t = edge.ctx.auth.createApiToken('perms-test') as unknown;
  return typeof t === 'string' ? t : (t as { token: string }).token;
}

describe('private data: modes of everything Guardian keeps (issue #20 item 3)', function () {
  this.timeout(240_000);
  const dir = tempDir('guardian-perms-');
  const dataDir = join(dir.path, 'data');
  const configPath = join(dir.path, 'edge.yaml');
  const umask = process.umask();
  let vm: VmProcess;
  let edge: Edge | undefined;
  let auth: Record<string, string>;

  before(async () => {
    // A shell's usual umask: what is private must be made so by Guardian, not by the test's environment.
    process.umask(0o022);
    vm = await new VmProcess(dir.path).create();
    await vm.pair('porch-box', dataDir);
    writeFileSync(
      configPath,
      YAML.stringify({
        dataDir,
        http: { host: '127.0.0.1', port: 0 },
        recording: { segmentSeconds: 4, minFreeBytes: 64 * 1024 ** 2, minFreeMinutes: 0 },
        events: { endAfterSeconds: 2 },
        cameras: { porch: { recordMode: 'continuous' } },
        archive: { enabled: true },
      }),
    );
    assert.equal(mode(configPath), 0o644, 'the owner wrote the configuration under umask 022');
  });

  after(async () => {
    await edge?.stop();
    await vm?.stop();
    process.umask(umask);
    dir.remove();
  });

  it('a new edge and its VM: directories 0700, files 0600 (database, -wal, snapshots, clips, recordings, screenshots, secrets, config)', async () => {
    const { log } = capturingLogger();
    edge = await startEdge(validateConfig(YAML.parse(readFileSync(configPath, 'utf8'))), { log, configPath });
    auth = { authorization: `Bearer ${apiToken(edge)}` };
    const added = await fetch(`${edge.url}/api/cameras`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'porch', name: 'Porch', kind: 'file', recordUrl: media.vtest, detectFps: 5 }),
    });
    assert.equal(added.status, 201, await added.text());
    // A finished event with its snapshot and its clip (cut by FFmpeg in the media process), finished recordings
    // (written by FFmpeg there too), and a dataset screenshot.
    await until(
      () =>
        filesUnder(join(dataDir, 'clips'), (f) => f.endsWith('.mp4')).length > 0 &&
        filesUnder(join(dataDir, 'snapshots'), (f) => f.endsWith('.jpg')).length > 0 &&
        filesUnder(join(dataDir, 'recordings'), (f) => f.endsWith('.mp4')).length > 1,
      150_000,
      'an event with a snapshot and a clip, and finished recordings',
    );
    const shot = await fetch(`${edge.url}/api/cameras/porch/screenshots`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ label: 'normal' }),
    });
    assert.equal(shot.status, 201, await shot.text());

    for (const f of ['guardian.db', 'guardian.db-wal', 'archive.secret', 'link.json'])
      assert.equal(octal(mode(join(dataDir, f))), '0600', f);
    for (const d of ['.', 'snapshots', 'clips', 'recordings', 'screenshots'])
      assert.equal(octal(mode(join(dataDir, d))), '0700', d);
    const recordings = filesUnder(join(dataDir, 'recordings'), () => true);
    assert.ok(recordings.length > 1);
    for (const f of recordings) assert.equal(octal(mode(f)), '0600', relative(dataDir, f));
    const hourDir = join(recordings[0] as string, '..');
    assert.equal(octal(mode(hourDir)), '0700', 'the recorder made its directories private');
    assert.equal(octal(mode(configPath)), '0600', 'the configuration file');
    assert.deepEqual(openEntries(dataDir), [], 'nothing in the edge data dir is open to others');

    // The VM (a `guardian vm` child started under umask 022): its data dir, database, -wal and configuration.
    for (const f of ['vm.db', 'vm.db-wal']) assert.equal(octal(mode(join(vm.dataDir, f))), '0600', f);
    assert.equal(octal(mode(join(dir.path, 'vm.yaml'))), '0600', "the VM's configuration (it holds its token)");
    assert.deepEqual(openEntries(vm.dataDir), [], 'nothing in the VM data dir is open to others');
  });

  it('a symbolic link placed in the snapshots (or clips) dir, to /etc/passwd, is not served: 404', async () => {
    assert.ok(edge);
    const e = edge;
    symlinkSync('/etc/passwd', join(dataDir, 'snapshots', 'evil.jpg'));
    mkdirSync(join(dataDir, 'clips', 'porch'), { recursive: true });
    symlinkSync('/etc/passwd', join(dataDir, 'clips', 'porch', 'evil.mp4'));
    const ev = e.ctx.events.create({
      cameraId: 'porch',
      trackId: 99,
      label: 'person',
      labels: ['person'],
      zones: [],
      startMs: Date.now() - 60_000,
      endMs: Date.now() - 50_000,
      maxScore: 0.9,
      meanScore: 0.8,
      detections: 3,
      boxPath: [],
      snapshot: 'snapshots/evil.jpg',
      thumbnail: 'snapshots/evil.jpg',
      clip: 'clips/porch/evil.mp4',
    });
    for (const path of ['snapshot.jpg', 'thumbnail.jpg', 'clip.mp4', 'clip.mp4?download=1']) {
      const res = await fetch(`${e.url}/api/events/${ev.id}/${path}`, { headers: auth });
      const body = await res.text();
      assert.equal(res.status, 404, `${path}: ${res.status}`);
      assert.doesNotMatch(body, /root:/, path);
    }
    // A real snapshot is still served.
    const real = (await (await fetch(`${e.url}/api/events?label=person`, { headers: auth })).json()) as {
      events: { id: string; snapshot: string | null }[];
    };
    const withSnapshot = real.events.find((x) => x.snapshot && x.id !== ev.id);
    assert.ok(withSnapshot);
    assert.equal((await fetch(`${e.url}/api/events/${withSnapshot.id}/snapshot.jpg`, { headers: auth })).status, 200);
    // The helper itself: inside but not a regular file, and a link whose target is inside, as the route sees them.
    assert.throws(() => servableFile(dataDir, join(dataDir, 'snapshots')), /no such file/);
    symlinkSync(join(dataDir, 'archive.secret'), join(dataDir, 'snapshots', 'inside.jpg'));
    assert.equal(
      servableFile(dataDir, join(dataDir, 'snapshots', 'inside.jpg')),
      join(dataDir, 'archive.secret'),
      'a link within the data dir resolves to its (checked) target',
    );
  });

  it('an edge started on an open tree (0755/0644, as older versions left it) makes it private, warning about each', async () => {
    await edge?.stop();
    edge = undefined;
    process.umask(0o022);
    const old = join(dir.path, 'old');
    mkdirSync(old, { mode: 0o755 });
    openEdgeDatabase(join(old, 'guardian.db')).close();
    writeSecretFile(join(old, 'archive.secret'), createSecret());
    chmodSync(join(old, 'archive.secret'), 0o644);
    const hour = join(old, 'recordings', 'porch', '2024-01-01', '10');
    mkdirSync(hour, { recursive: true });
    writeFileSync(join(hour, 'porch-20240101-100000.mp4'), 'not really a video');
    mkdirSync(join(old, 'snapshots', 'porch'), { recursive: true });
    writeFileSync(join(old, 'snapshots', 'porch', 'old.jpg'), 'jpeg');
    const oldConfig = join(dir.path, 'old.yaml');
    writeFileSync(oldConfig, YAML.stringify({ dataDir: old, http: { host: '127.0.0.1', port: 0 } }));
    const before = openEntries(old);
    assert.ok(before.length >= 10, before.join('\n'));
    assert.equal(mode(join(old, 'guardian.db')), 0o644);

    const { log, warnings } = capturingLogger();
    edge = await startEdge(validateConfig(YAML.parse(readFileSync(oldConfig, 'utf8'))), { log, configPath: oldConfig });
    // The data dir, its direct entries and the configuration at once; what is deeper in the background.
    for (const p of ['.', 'guardian.db', 'archive.secret', 'recordings', 'snapshots'])
      assert.equal(mode(join(old, p)) & 0o077, 0, p);
    assert.equal(mode(oldConfig), 0o600);
    await until(() => openEntries(old).length === 0, 20_000, `the tree to be private:\n${openEntries(old).join('\n')}`);
    const said = warnings().map((w) => w.msg);
    for (const p of [old, join(old, 'guardian.db'), join(old, 'archive.secret'), oldConfig])
      assert.ok(
        said.some((m) => m.startsWith(`${p} was accessible by other users (mode 0644)`) || m.includes(`${p} was`)),
        `a warning names ${p}:\n${said.join('\n')}`,
      );
    await until(
      () => warnings().some((w) => /directories and \d+ files under .*recordings were accessible/.test(w.msg)),
      10_000,
      'a summary of what was fixed under recordings',
    );
  });

  it('refuses a data dir that belongs to another user (fixing modes would not make it ours)', async function () {
    if (!isRoot) {
      console.log('      skipped: needs root to give a directory to another user');
      this.skip();
    }
    const theirs = join(dir.path, 'theirs');
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, 4242, 4242);
    const { log } = capturingLogger();
    assert.throws(
      () => secureDataDir(theirs, { log }),
      (err: Error & { code?: string }) =>
        err.code === 'PERMISSION_DENIED' && /belongs to user 4242/.test(err.message) && err.message.includes(theirs),
    );
    await assert.rejects(
      startEdge(validateConfig({ dataDir: theirs, http: { host: '127.0.0.1', port: 0 } }), { log }),
      /belongs to user 4242/,
    );
    assert.deepEqual(readdirSync(theirs), [], 'nothing was created in it');
    assert.equal(statSync(theirs).uid, 4242);
  });
});
