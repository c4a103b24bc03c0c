// Recording: indexes the segments the native recorder finishes, keeps retention, guards the disk, reconciles the
// index with the files at startup, and cuts event clips from segments by stream copy.
import { EventEmitter } from 'node:events';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  unlinkSync,
  utimesSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

import {
  type ClipResult,
  exportClip,
  openSource,
  type RecorderEvent,
  type SourceOptions,
} from '../../../bindings/index.ts';
import { ClockWatch } from '../../shared/clock.ts';
import { type Config, validateConfig } from '../../shared/config.ts';
import type { Db } from '../../shared/db.ts';
import { GuardianError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { SegmentIndex } from './segments.ts';

export interface RecordingConfig {
  root: string;
  segmentSeconds: number;
  retention: { continuousDays: number; eventDays: number };
  /** Seconds of video kept before and after an event in its clip and in event retention. */
  preRollSeconds: number;
  postRollSeconds: number;
  /** In "events" mode, segments no event claimed are deleted after this long (the rolling pre-event buffer). */
  eventsBufferSeconds: number;
  disk: {
    /** Free space always kept on the recordings disk. */
    minFreeBytes: number;
    /** ...or this many minutes of recording at the current bitrate, whichever is more. */
    minFreeMinutes: number;
  };
  /**
   * Event clips are a cache: cut from the segments (which event retention keeps), at most maxSeconds long, and
   * evicted least recently used beyond maxBytes or a quarter of the recordings' bytes, whichever is less. They are
   * the first thing deleted when the disk runs low, since they can always be cut again.
   */
  clips: { dir: string; maxSeconds: number; maxBytes: number };
}

/** Clips may use at most this share of what the recordings they are cut from take. */
export const CLIP_CACHE_SHARE = 0.25;

/** The service's settings from the configuration's `recording` section (the schema in config.ts holds the defaults). */
export function recordingConfig(dataDir: string, r: Config['recording']): RecordingConfig {
  return {
    root: join(dataDir, 'recordings'),
    segmentSeconds: r.segmentSeconds,
    retention: { continuousDays: r.continuousDays, eventDays: r.eventDays },
    preRollSeconds: r.preRollSeconds,
    postRollSeconds: r.postRollSeconds,
    eventsBufferSeconds: r.eventsBufferSeconds,
    disk: { minFreeBytes: r.minFreeBytes, minFreeMinutes: r.minFreeMinutes },
    clips: { dir: join(dataDir, 'clips'), maxSeconds: r.clipMaxSeconds, maxBytes: r.clipCacheMB * 1024 ** 2 },
  };
}

/** The defaults, with the recordings under `root` (tests and benchmarks). */
export const defaultRecordingConfig = (root: string): RecordingConfig => ({
  ...recordingConfig(dirname(root), validateConfig({ dataDir: '/' }).recording),
  root,
});

export type RecordingMode = 'continuous' | 'events';

export interface CameraRecordingStatus {
  recording: boolean;
  paused: boolean;
  reason: string | null;
  lastSegmentMs: number | null;
  bytesPerSecond: number;
}

export interface ReconcileReport {
  indexedFiles: number;
  removedRows: number;
  salvagedPartial: number;
  movedAside: number;
}

const DAY = 86_400_000;

function walk(dir: string, out: string[] = []): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name.startsWith('.')) continue; // .damaged and other housekeeping
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.mp4') || e.name.endsWith('.mp4.part')) out.push(p);
  }
  return out;
}

/** <camera>-YYYYMMDD-HHMMSS[-n].mp4 (UTC) -> epoch ms */
function startFromName(name: string): number | undefined {
  const m = /-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(?:-\d+)?\.mp4/.exec(name);
  if (!m) return undefined;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/**
 * The native work the service needs: cutting clips and measuring files. In one process (tests, benchmarks) the addon
 * does it directly; in the edge the main process owns the index and asks the media process (crash isolation).
 */
export interface RecordingNative {
  exportClip(options: { inputs: string[]; start: number; end: number; output: string }): Promise<ClipResult>;
  measure(path: string): Promise<{ duration: number; frames: number } | undefined>;
}

export const inProcessNative: RecordingNative = { exportClip, measure: measureFile };

/** Reads a whole file without decoding: packets and frame rate give its playable duration. */
export async function measureFile(path: string): Promise<{ duration: number; frames: number } | undefined> {
  try {
    const src = await openSource(path, { decode: false });
    await src.read();
    const stats = src.stats();
    const fps = src.info.fps || 10;
    await src.close();
    return stats.videoPackets > 0 ? { duration: stats.videoPackets / fps, frames: stats.videoPackets } : undefined;
  } catch {
    return undefined;
  }
}

export class RecordingService extends EventEmitter {
  readonly index: SegmentIndex;
  /** Watches for clock jumps: deletion by age waits after one. */
  readonly clock: ClockWatch;
  private readonly status = new Map<string, CameraRecordingStatus>();
  private readonly modes = new Map<string, RecordingMode>();
  private timer: NodeJS.Timeout | undefined;
  private diskFull = false;
  private cuts = 0;

  constructor(
    db: Db,
    readonly config: RecordingConfig,
    private readonly log: Logger,
    private readonly native: RecordingNative = inProcessNative,
  ) {
    super();
    mkdirSync(config.root, { recursive: true, mode: 0o700 });
    this.index = new SegmentIndex(db, config.root);
    this.clock = new ClockWatch(10 * 60_000, log);
  }

  start(intervalMs = 30_000): void {
    this.timer = setInterval(
      () => void this.enforce().catch((err) => this.log.warn({ err }, 'retention could not run; it is tried again')),
      intervalMs,
    );
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  setMode(cameraId: string, mode: RecordingMode): void {
    this.modes.set(cameraId, mode);
  }

  cameraStatus(cameraId: string): CameraRecordingStatus {
    return (
      this.status.get(cameraId) ?? {
        recording: false,
        paused: false,
        reason: null,
        lastSegmentMs: null,
        bytesPerSecond: 0,
      }
    );
  }

  /** What to add to a camera's recording-stream source so the native recorder writes into this service. */
  sourceOptions(cameraId: string): Pick<SourceOptions, 'record' | 'onRecord'> {
    this.status.set(cameraId, { ...this.cameraStatus(cameraId), recording: true });
    return {
      record: { dir: join(this.config.root, cameraId), camera: cameraId, segmentSeconds: this.config.segmentSeconds },
      onRecord: (e) => this.onRecorderEvent(cameraId, e),
    };
  }

  onRecorderEvent(cameraId: string, e: RecorderEvent): void {
    const st = this.cameraStatus(cameraId);
    if (e.type === 'segment') {
      const seg = this.index.add({
        cameraId,
        path: this.index.relative(e.path),
        startMs: e.startMs ?? Date.now(),
        endMs: e.endMs ?? Date.now(),
        duration: e.durationSeconds ?? 0,
        bytes: e.bytes ?? 0,
        frames: e.frames ?? 0,
      });
      const bps = seg.duration > 0 ? seg.bytes / seg.duration : st.bytesPerSecond;
      this.status.set(cameraId, { ...st, recording: true, lastSegmentMs: seg.endMs, bytesPerSecond: bps });
      this.emit('segment', seg);
      this.guardDisk();
    } else if (e.type === 'paused') {
      this.status.set(cameraId, { ...st, paused: true, reason: `${e.message} [${e.code}]` });
      this.log.error({ camera: cameraId, code: e.code, error: e.message }, 'recording paused');
      this.emit('paused', cameraId, e);
      this.guardDisk();
    } else if (e.type === 'resumed') {
      this.status.set(cameraId, { ...st, paused: false, reason: null });
      this.log.info({ camera: cameraId }, 'recording resumed');
      this.emit('resumed', cameraId);
    }
  }

  /** Current recording bitrate of all cameras, bytes per second. */
  bytesPerSecond(): number {
    let sum = 0;
    for (const s of this.status.values()) if (s.recording) sum += s.bytesPerSecond;
    return sum;
  }

  freeBytes(): number {
    const s = statfsSync(this.config.root);
    return Number(s.bavail) * Number(s.bsize);
  }

  private deleteSegment(seg: { id: number; path: string }): void {
    try {
      unlinkSync(this.index.absolute(seg));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.index.remove(seg.id);
  }

  /** Frees space by deleting the oldest unprotected segments; reports when nothing more can be freed. */
  guardDisk(): { freedBytes: number; diskFull: boolean } {
    const need = Math.max(this.config.disk.minFreeBytes, this.config.disk.minFreeMinutes * 60 * this.bytesPerSecond());
    let free = this.freeBytes();
    let freed = 0;
    if (free < need) freed += this.evictClips(need - free);
    free = this.freeBytes();
    while (free < need) {
      const batch = this.index.oldestEvictable(8);
      if (!batch.length) break;
      for (const seg of batch) {
        this.deleteSegment(seg);
        freed += seg.bytes;
        if (free + freed >= need) break;
      }
      free = this.freeBytes();
    }
    const full = free < need;
    if (freed) {
      this.log.warn({ freedBytes: freed, freeBytes: free }, 'low disk space: deleted the oldest recordings');
      this.emit('evicted', freed);
    }
    if (full !== this.diskFull) {
      this.diskFull = full;
      if (full)
        this.log.error({ freeBytes: free, neededBytes: need }, 'recordings disk is full and nothing can be deleted');
      this.emit('disk', { full, freeBytes: free });
    }
    return { freedBytes: freed, diskFull: full };
  }

  /** Retention classes, the events-mode buffer and the disk watermark. */
  async enforce(now = Date.now()): Promise<{ deleted: number }> {
    let deleted = 0;
    const r = this.config.retention;
    // After a clock jump nothing is deleted by age until the clock is steady again (space is still made below).
    if (!this.clock.steady()) {
      this.guardDisk();
      return { deleted };
    }
    for (const seg of [
      ...this.index.expired('continuous', now - r.continuousDays * DAY),
      ...this.index.expired('event', now - r.eventDays * DAY),
    ]) {
      this.deleteSegment(seg);
      deleted++;
    }
    // Events mode: keep unclaimed video only as a rolling pre-event buffer.
    for (const [cameraId, mode] of this.modes) {
      if (mode !== 'events') continue;
      for (const seg of this.index.expired('continuous', now - this.config.eventsBufferSeconds * 1000)) {
        if (seg.cameraId !== cameraId) continue;
        this.deleteSegment(seg);
        deleted++;
      }
    }
    this.guardDisk();
    return { deleted };
  }

  /** An event happened: its video (with pre/post roll) follows event retention. */
  claimForEvent(cameraId: string, startMs: number, endMs: number): number {
    return this.index.markRetain(
      cameraId,
      startMs - this.config.preRollSeconds * 1000,
      endMs + this.config.postRollSeconds * 1000,
      'event',
    );
  }

  /** Makes startup consistent: rows without files go, files without rows are indexed, partial segments salvaged. */
  async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = { indexedFiles: 0, removedRows: 0, salvagedPartial: 0, movedAside: 0 };
    for (const seg of this.index.list()) {
      if (!existsSync(this.index.absolute(seg))) {
        this.index.remove(seg.id);
        report.removedRows++;
      }
    }
    const known = this.index.paths();
    for (let file of walk(this.config.root)) {
      const partial = file.endsWith('.part');
      if (!partial && known.has(this.index.relative(file))) continue;
      const m = await this.native.measure(file);
      if (!m) {
        // Nothing playable: keep it aside for inspection rather than delete evidence.
        const aside = join(this.config.root, '.damaged', this.index.relative(file).replaceAll('/', '_'));
        mkdirSync(dirname(aside), { recursive: true, mode: 0o700 });
        renameSync(file, aside);
        report.movedAside++;
        continue;
      }
      if (partial) {
        const finished = file.slice(0, -'.part'.length);
        renameSync(file, finished);
        file = finished;
        report.salvagedPartial++;
      } else {
        report.indexedFiles++;
      }
      const rel = this.index.relative(file);
      const cameraId = rel.split('/')[0] ?? 'unknown';
      const startMs = startFromName(basename(file)) ?? statSync(file).mtimeMs - m.duration * 1000;
      this.index.add({
        cameraId,
        path: rel,
        startMs,
        endMs: startMs + m.duration * 1000,
        duration: m.duration,
        bytes: statSync(file).size,
        frames: m.frames,
      });
    }
    if (report.indexedFiles || report.removedRows || report.salvagedPartial || report.movedAside)
      this.log.warn(report, 'recordings reconciled with the index');
    return report;
  }

  /**
   * One MP4 for [startMs, endMs] of a camera (at most clips.maxSeconds), by stream copy from the keyframe at or
   * before the start. A clip written into the clip cache counts against its budget; the oldest clips go first.
   */
  async clip(
    cameraId: string,
    startMs: number,
    endMs: number,
    output: string,
  ): Promise<ClipResult & { startMs: number }> {
    const stopMs = Math.min(endMs, startMs + this.config.clips.maxSeconds * 1000);
    const segs = this.index.overlapping(cameraId, startMs, stopMs);
    const first = segs[0];
    if (!first) throw new GuardianError('NOT_FOUND', `no recording of ${cameraId} covers that time`);
    const start = Math.max(0, (startMs - first.startMs) / 1000);
    const end = (stopMs - first.startMs) / 1000;
    mkdirSync(dirname(output), { recursive: true, mode: 0o700 });
    // Cut under a temporary name and rename: a reader never sees half a clip, and the cache never evicts one being
    // written (two cuts may run at once).
    const partial = `${output}.${process.pid}-${++this.cuts}.part`;
    let result: ClipResult;
    try {
      result = await this.native.exportClip({
        inputs: segs.map((s) => this.index.absolute(s)),
        start,
        end,
        output: partial,
      });
      renameSync(partial, output);
    } finally {
      rmSync(partial, { force: true });
    }
    this.trimClips(output);
    return { ...result, startMs: first.startMs + result.startSeconds * 1000 };
  }

  /** The clip cache's files, least recently used first (a clip served is touched). */
  private clipFiles(): { path: string; bytes: number; usedMs: number }[] {
    return walk(this.config.clips.dir)
      .filter((f) => f.endsWith('.mp4'))
      .flatMap((path) => {
        try {
          const st = statSync(path);
          return [{ path, bytes: st.size, usedMs: st.mtimeMs }];
        } catch {
          return []; // deleted meanwhile
        }
      })
      .sort((a, b) => a.usedMs - b.usedMs);
  }

  clipBytes(): number {
    return this.clipFiles().reduce((n, f) => n + f.bytes, 0);
  }

  /** What the clip cache may hold now. */
  clipBudget(): number {
    return Math.min(this.config.clips.maxBytes, CLIP_CACHE_SHARE * this.index.totals().bytes);
  }

  /** Evicts the least recently used clips beyond the budget; `keep` (the clip just made) always stays. */
  trimClips(keep?: string): number {
    const files = this.clipFiles();
    let total = files.reduce((n, f) => n + f.bytes, 0);
    const budget = this.clipBudget();
    let freed = 0;
    for (const f of files) {
      if (total <= budget) break;
      if (f.path === keep) continue;
      rmSync(f.path, { force: true });
      total -= f.bytes;
      freed += f.bytes;
    }
    return freed;
  }

  /** Low disk: clips go before any recording, oldest first, until `bytes` are freed. */
  private evictClips(bytes: number): number {
    let freed = 0;
    for (const f of this.clipFiles()) {
      if (freed >= bytes) break;
      rmSync(f.path, { force: true });
      freed += f.bytes;
    }
    if (freed) this.log.warn({ freedBytes: freed }, 'low disk space: deleted cached event clips');
    return freed;
  }

  /** A cached clip was used: it becomes the most recently used. */
  touchClip(path: string): void {
    const now = new Date();
    try {
      utimesSync(path, now, now);
    } catch {
      // evicted meanwhile: it will be cut again
    }
  }
}
