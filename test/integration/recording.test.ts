// Recording with real media on real filesystems: segment lengths and playability, event clips, retention,
// reconciliation, disk full on a small tmpfs, kill -9 of the recording process, and detection failing meanwhile.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { openSource } from '../../bindings/index.ts';
import { CameraManager } from '../../src/edge/cameras/manager.ts';
import { CameraRegistry } from '../../src/edge/cameras/registry.ts';
import type { Segment } from '../../src/edge/recording/segments.ts';
import { defaultRecordingConfig, type RecordingConfig, RecordingService } from '../../src/edge/recording/service.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import { createLogger } from '../../src/shared/log.ts';
import { projectRoot } from '../../src/shared/paths.ts';
import { execFileAsync, ffprobeSegment, isRoot, media, tempDir } from '../helpers.ts';

const log = createLogger({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function seekable(path: string, at: number): Promise<boolean> {
  try {
    await execFileAsync('ffmpeg', ['-v', 'error', '-ss', String(at), '-i', path, '-frames:v', '1', '-f', 'null', '-']);
    return true;
  } catch {
    return false;
  }
}

function service(dir: string, patch: Partial<RecordingConfig> = {}) {
  const db = openEdgeDatabase(join(dir, 'guardian.db'));
  const rec = new RecordingService(
    db,
    { ...defaultRecordingConfig(join(dir, 'recordings')), disk: { minFreeBytes: 0, minFreeMinutes: 0 }, ...patch },
    log,
  );
  return { db, rec };
}

describe('recording', function () {
  this.timeout(180_000);

  it('60 s of a real-time camera -> 6 playable, seekable 10 s segments adding up to the wall time', async () => {
    const dir = tempDir();
    try {
      const { db, rec } = service(dir.path);
      const src = await openSource(media.vtest, { realtime: true, loop: true, fps: 5, ...rec.sourceOptions('porch') });
      const t0 = performance.now();
      // Frames are read (as detection would) while the recorder writes.
      while (performance.now() - t0 < 60_000) await src.read();
      await src.close();
      const wall = (performance.now() - t0) / 1000;
      const segs = rec.index.list('porch');
      const full = segs.filter((s) => s.duration >= 9.5);
      assert.equal(full.length, 6, JSON.stringify(segs.map((s) => s.duration)));
      const total = segs.reduce((sum, s) => sum + s.duration, 0);
      assert.ok(
        Math.abs(total - wall) <= 2,
        `segments total ${total.toFixed(2)} s for ${wall.toFixed(2)} s of wall time (GOP 2 s)`,
      );
      for (const s of segs) {
        const path = rec.index.absolute(s);
        assert.match(path, /\/porch\/\d{4}-\d{2}-\d{2}\/\d{2}\/porch-\d{8}-\d{6}(-\d+)?\.mp4$/);
        const p = await ffprobeSegment(path);
        assert.equal(p.frames, s.frames, `${path} frames`);
        assert.ok(Math.abs(p.duration - s.duration) < 0.2, `${path}: ffprobe ${p.duration} vs ${s.duration}`);
        assert.ok(p.firstKey, `${path} starts on a keyframe`);
        if (s.duration >= 9.5) assert.ok(await seekable(path, 6), `${path} seeks`);
      }
      // Consecutive segments follow each other in time.
      for (let i = 1; i < segs.length; i++)
        assert.ok(Math.abs((segs[i]?.startMs ?? 0) - (segs[i - 1]?.endMs ?? 0)) < 500, 'no gap between segments');

      // An event clip across the boundary of two segments.
      const a = full[2];
      const b = full[3];
      assert.ok(a && b);
      const want = { start: a.startMs + 5000, end: b.startMs + 5000 };
      const out = join(dir.path, 'clips', 'event.mp4');
      const t1 = performance.now();
      const clip = await rec.clip('porch', want.start, want.end, out);
      const clipMs = performance.now() - t1;
      const p = await ffprobeSegment(out);
      assert.ok(p.firstKey && clip.startsOnKeyframe, 'clip starts on a keyframe');
      assert.ok(Math.abs(p.duration - 10) <= 2, `clip lasts ${p.duration} s for 10 s requested (GOP 2 s)`);
      assert.ok(clip.startMs <= want.start && want.start - clip.startMs <= 2000, 'starts at the keyframe before');
      assert.ok(await seekable(out, 7));
      assert.ok(clipMs < 2000, `clip took ${clipMs} ms`);
      db.close();
    } finally {
      dir.remove();
    }
  });

  it('recording continues while the detector throws on every frame', async () => {
    const dir = tempDir();
    try {
      const { db, rec } = service(dir.path, { segmentSeconds: 2 });
      const registry = new CameraRegistry(db);
      registry.add({ id: 'yard', name: 'Yard', kind: 'file', recordUrl: media.vtest });
      let thrown = 0;
      const manager = new CameraManager(
        registry,
        log,
        {
          stallTimeoutMs: 5000,
          connectTimeoutMs: 5000,
          backoff: { initialMs: 500, maxMs: 1000, factor: 2, jitter: 0 },
          onFrame: () => {
            thrown++;
            throw new Error('inference backend exploded');
          },
        },
        rec,
      );
      manager.start();
      await sleep(7000);
      await manager.stop();
      assert.ok(thrown > 20, `detector called ${thrown} times`);
      assert.ok(rec.index.list('yard').length >= 3, 'segments kept coming');
      assert.equal(registry.get('yard').health.status !== 'error', true);
      db.close();
    } finally {
      dir.remove();
    }
  });

  it('applies retention classes and keeps protected segments', async () => {
    const dir = tempDir();
    try {
      const { db, rec } = service(dir.path, { retention: { continuousDays: 1, eventDays: 3 } });
      const day = 86_400_000;
      const now = Date.now();
      const make = (name: string, ageDays: number) => {
        const rel = `cam/old/${name}.mp4`;
        mkdirSync(join(dir.path, 'recordings', 'cam', 'old'), { recursive: true });
        writeFileSync(join(dir.path, 'recordings', rel), 'x');
        return rec.index.add({
          cameraId: 'cam',
          path: rel,
          startMs: now - ageDays * day,
          endMs: now - ageDays * day + 10_000,
          duration: 10,
          bytes: 1,
          frames: 100,
        });
      };
      const c2 = make('continuous-2d', 2);
      make('continuous-0d', 0.5);
      const e2 = make('event-2d', 2);
      const e4 = make('event-4d', 4);
      const p9 = make('protected-9d', 9);
      rec.index.setRetain(e2.id, 'event');
      rec.index.setRetain(e4.id, 'event');
      rec.index.setRetain(p9.id, 'protected');
      const { deleted } = await rec.enforce(now);
      assert.equal(deleted, 2);
      const left = rec.index.list().map((s) => s.path.split('/').pop());
      assert.deepEqual(left.sort(), ['continuous-0d.mp4', 'event-2d.mp4', 'protected-9d.mp4']);
      assert.ok(!existsSync(rec.index.absolute(c2)), 'the file went with its row');
      db.close();
    } finally {
      dir.remove();
    }
  });

  it('disk full on a small tmpfs: evicts the oldest first, pauses when nothing can go, resumes when space returns', async function () {
    if (!isRoot) {
      console.log('      skipped: mounting a tmpfs needs root (CI runs as root)');
      this.skip();
    }
    const dir = tempDir();
    const mnt = join(dir.path, 'small');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt]);
    try {
      const db = openEdgeDatabase(join(dir.path, 'guardian.db'));
      const rec = new RecordingService(
        db,
        {
          ...defaultRecordingConfig(join(mnt, 'rec')),
          segmentSeconds: 2,
          disk: { minFreeBytes: 2 * 1024 * 1024, minFreeMinutes: 0 },
        },
        log,
      );
      const events: ('paused' | 'resumed')[] = [];
      rec.on('paused', () => events.push('paused'));
      rec.on('resumed', () => events.push('resumed'));
      const written: Segment[] = [];
      rec.on('segment', (s: Segment) => written.push(s));
      const src = await openSource(media.vtest1080, {
        realtime: true,
        loop: true,
        decode: false,
        ...rec.sourceOptions('cam'),
      });
      // Phase 1: more than the disk holds (6 MB; 3 Mb/s is ~14 s, longer on a busy machine); eviction keeps it
      // writing. Judged by bytes written rather than by time, so a loaded machine does not change the outcome.
      const total = () => written.reduce((sum, x) => sum + x.bytes, 0);
      for (const t0 = Date.now(); total() < 7 * 1024 * 1024 && Date.now() - t0 < 60_000; ) await sleep(250);
      assert.ok(total() >= 7 * 1024 * 1024, `wrote more than the disk holds (${total()} bytes)`);
      const afterEviction = rec.index.list('cam');
      assert.equal(events.length, 0, 'never ran out of space');
      assert.ok(afterEviction.length >= 2);
      const kept = new Set(afterEviction.map((x) => x.id));
      assert.ok(!kept.has(written[0]?.id ?? -1) && !kept.has(written[1]?.id ?? -1), 'the oldest segments were deleted');
      assert.ok(kept.has(written.at(-1)?.id ?? -1), 'the newest is kept');
      // Recording goes on meanwhile, evicting the oldest: probe what is still there.
      for (const s of afterEviction)
        if (existsSync(rec.index.absolute(s))) assert.ok((await ffprobeSegment(rec.index.absolute(s))).frames > 0);

      // Phase 2: the owner protects everything, new segments included: nothing is evictable, so recording
      // pauses at ENOSPC.
      let protectNew = true;
      rec.on('segment', (s) => {
        if (protectNew) rec.index.setRetain(s.id, 'protected');
      });
      for (const s of rec.index.list()) rec.index.setRetain(s.id, 'protected');
      const t0 = Date.now();
      while (!events.includes('paused') && Date.now() - t0 < 20_000) await sleep(200);
      assert.ok(events.includes('paused'), 'recording paused');
      assert.match(rec.cameraStatus('cam').reason ?? '', /DISK_FULL/);
      const committed = rec.index.list();
      for (const s of committed)
        assert.ok((await ffprobeSegment(rec.index.absolute(s))).frames > 0, 'committed segments intact');

      // Phase 3: space comes back (the owner unprotects the oldest): recording resumes by itself.
      protectNew = false;
      for (const s of committed.slice(0, Math.ceil(committed.length / 2))) rec.index.setRetain(s.id, 'continuous');
      rec.guardDisk();
      const t1 = Date.now();
      while (!events.includes('resumed') && Date.now() - t1 < 10_000) await sleep(200);
      assert.ok(events.includes('resumed'), 'recording resumed');
      const before = rec.index.list().length;
      await sleep(4500);
      assert.ok(
        rec.index.list().length > before - 1 && rec.index.list().some((s) => s.startMs > t1),
        'new segments after resuming',
      );
      for (const s of committed.slice(Math.ceil(committed.length / 2)))
        assert.ok(existsSync(rec.index.absolute(s)), 'protected segments were never deleted');
      await src.close();
      db.close();
    } finally {
      execFileSync('umount', ['-l', mnt]);
      dir.remove();
    }
  });

  it('kill -9 of the recording process: finished segments play, the partial one is salvaged, the index is intact, recording resumes', async () => {
    const dir = tempDir();
    const children: ChildProcess[] = [];
    const startChild = () => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(projectRoot, 'test', 'support', 'record_child.ts'), dir.path, media.vtest, '2'],
        { cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      children.push(child);
      const lines: string[] = [];
      child.stdout?.on('data', (d: Buffer) => lines.push(...d.toString().trim().split('\n')));
      return { child, lines };
    };
    try {
      const first = startChild();
      const t0 = Date.now();
      while (first.lines.filter((l) => l.startsWith('SEGMENT')).length < 3 && Date.now() - t0 < 30_000)
        await sleep(100);
      await sleep(1300); // in the middle of the next segment
      first.child.kill('SIGKILL');
      await new Promise((r) => first.child.once('exit', r));

      const root = join(dir.path, 'recordings');
      const files = execFileSync('find', [root, '-type', 'f']).toString().trim().split('\n');
      const finished = files.filter((f) => f.endsWith('.mp4'));
      const partial = files.filter((f) => f.endsWith('.part'));
      assert.ok(finished.length >= 3);
      for (const f of finished) assert.ok((await ffprobeSegment(f)).frames > 0, `${f} plays`);
      assert.equal(partial.length, 1, 'the segment being written was left as .part');
      const db = new Database(join(dir.path, 'guardian.db'), { readonly: true });
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      db.close();

      const second = startChild();
      const t1 = Date.now();
      while (second.lines.filter((l) => l.startsWith('SEGMENT')).length < 2 && Date.now() - t1 < 30_000)
        await sleep(100);
      const report = JSON.parse((second.lines.find((l) => l.startsWith('RECONCILED')) ?? 'RECONCILED {}').slice(11));
      assert.equal(report.salvagedPartial + report.movedAside, 1, JSON.stringify(report));
      assert.ok(second.lines.filter((l) => l.startsWith('SEGMENT')).length >= 2, 'recording resumed after the restart');
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
      const salvaged = partial[0]?.replace(/\.part$/, '') ?? '';
      if (report.salvagedPartial)
        assert.ok((await ffprobeSegment(salvaged)).frames > 0, 'salvaged segment plays up to its last fragment');
      assert.equal(readdirSync(root).includes('.damaged'), report.movedAside === 1);
      const db2 = new Database(join(dir.path, 'guardian.db'), { readonly: true });
      assert.equal(db2.pragma('integrity_check', { simple: true }), 'ok');
      db2.close();
    } finally {
      for (const c of children) c.kill('SIGKILL');
      dir.remove();
    }
  });
});
