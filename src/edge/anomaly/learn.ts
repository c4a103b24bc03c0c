// A camera's anomaly models in the main process: versioned dirs <dataDir>/anomaly/<camera>/v<N> (0700), the newest
// good one active; learning normal from the camera's own recordings of the last hours in a child process
// (learn-worker.ts), with its progress; a failed fit changes nothing (the new version's dir is written all at once
// by writeModelDir, so it either is a whole model or does not exist).
import { type ChildProcess, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';

import type { AnomalyFailure, AnomalyModelInfo, AnomalyModelState } from '../../shared/api-types.ts';
import { GuardianError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { CAE_KIND, CAE_ONNX, type CaeModelFile } from './cae.ts';
import type { DetectorChoice } from './clip-analyser.ts';
import { loadAnomalyModel, readModelKind } from './kinds.ts';
import type { LearnReport, LearnRequest } from './learn-worker.ts';
import { BANK_FILE, MODEL_FILE, type ModelFile } from './model.ts';

/** Where a version came from (origin.json beside model.json when the owner's server sent it). */
interface Origin {
  modelId: string;
  sha256: string;
}

/** What a fit needs (fit.ts: 30 s to learn from and 10 s held out, in at least 2 clips). */
export const MIN_LEARN_SECONDS = 40;
export const MIN_LEARN_CLIPS = 2;
/** Learning from Datasets: the recordings within this much of a screenshot labelled normal. */
export const MOMENT_MARGIN_MS = 30_000;
/** Live scoring rate: every analysed frame up to 10 a second (the motion cue measures speed over one sampled
 *  interval, so the model is fitted at the rate it is scored at); above that a whole divisor of it. */
export const MAX_SCORING_FPS = 10;
export const scoringFps = (detectFps: number) => detectFps / Math.ceil(detectFps / MAX_SCORING_FPS);

const workerPath = new URL('./learn-worker.ts', import.meta.url).pathname;

export interface RecordedSegment {
  path: string;
  duration: number;
}

export interface LearnSources {
  /** The camera's finished recordings overlapping [startMs, endMs], absolute paths, in time order. */
  segments(cameraId: string, startMs: number, endMs: number): RecordedSegment[];
  detectFps(cameraId: string): number;
  /** The detector and classes the cameras run (their tracks are the object cues). */
  detector?(): DetectorChoice;
}

export interface ActiveModel {
  dir: string;
  version: number;
  model: ModelFile | CaeModelFile;
  origin: Origin | null;
}

export interface ModelChange {
  at: string;
  state: 'active' | 'failed' | 'rolled_back';
  message: string | null;
}

interface Job {
  child: ChildProcess;
  progress: number;
  startedAt: string;
  hours: number;
}

export class AnomalyModels {
  readonly root: string;
  private readonly jobs = new Map<string, Job>();
  private readonly failures = new Map<string, AnomalyFailure>();
  private readonly activeCache = new Map<string, ActiveModel | null>();
  private readonly changes = new Map<string, ModelChange>();

  constructor(
    dataDir: string,
    private readonly sources: LearnSources,
    private readonly log: Logger,
    /** A new model became active for a camera (the media process loads it). */
    private readonly onActive: (cameraId: string, model: ActiveModel) => void = () => {},
  ) {
    this.root = join(dataDir, 'anomaly');
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
  }

  private cameraDir(cameraId: string): string {
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(cameraId)) throw new GuardianError('INVALID_ARGUMENT', 'bad camera id');
    return join(this.root, cameraId);
  }

  /** Version numbers of a camera's model dirs (v1, v2, ...), newest first. */
  private versions(cameraId: string): number[] {
    const dir = this.cameraDir(cameraId);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .flatMap((n) => (/^v\d+$/.test(n) ? [Number(n.slice(1))] : []))
      .sort((a, b) => b - a);
  }

  /** A version's model, when its dir holds a whole model of a kind this edge runs. */
  private readVersion(cameraId: string, v: number): ActiveModel | null {
    const dir = join(this.cameraDir(cameraId), `v${v}`);
    try {
      readModelKind(dir);
      const model = JSON.parse(readFileSync(join(dir, MODEL_FILE), 'utf8')) as ModelFile | CaeModelFile;
      const originFile = join(dir, 'origin.json');
      const origin = existsSync(originFile) ? (JSON.parse(readFileSync(originFile, 'utf8')) as Origin) : null;
      return { dir, version: v, model, origin };
    } catch {
      return null; // not a whole model: skip it
    }
  }

  /** The version the owner chose last (deployed, rolled back to), else the newest whole model. */
  active(cameraId: string): ActiveModel | null {
    const cached = this.activeCache.get(cameraId);
    if (cached !== undefined) return cached;
    const pointer = join(this.cameraDir(cameraId), 'active');
    let found: ActiveModel | null = null;
    if (existsSync(pointer)) found = this.readVersion(cameraId, Number(readFileSync(pointer, 'utf8').trim()));
    for (const v of found ? [] : this.versions(cameraId)) {
      found = this.readVersion(cameraId, v);
      if (found) break;
    }
    this.activeCache.set(cameraId, found);
    return found;
  }

  private setActive(cameraId: string, version: number): ActiveModel {
    const pointer = join(this.cameraDir(cameraId), 'active');
    writeFileSync(`${pointer}.tmp`, String(version), { mode: 0o600 });
    renameSync(`${pointer}.tmp`, pointer);
    this.activeCache.delete(cameraId);
    return this.active(cameraId) as ActiveModel;
  }

  /** Cameras with model dirs. */
  cameras(): string[] {
    return readdirSync(this.root).filter((n) => /^[a-z0-9][a-z0-9-]{0,63}$/.test(n) && this.versions(n).length);
  }

  /** The whole versions of a camera, newest first. */
  wholeVersions(cameraId: string): number[] {
    return this.versions(cameraId).filter((v) => this.readVersion(cameraId, v));
  }

  /** A version's main file never changes once written: hashed once per file, not at every hello. */
  private readonly hashes = new Map<string, string>();
  private fileSha256(file: string): string {
    let h = this.hashes.get(file);
    if (h === undefined) {
      h = existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : '';
      this.hashes.set(file, h);
    }
    return h;
  }

  /** What a camera runs, for the VM (hello, reports). */
  report(cameraId: string, state?: ModelChange['state'], message?: string) {
    const a = this.active(cameraId);
    const mainFile = a ? join(a.dir, a.model.kind === CAE_KIND ? CAE_ONNX : BANK_FILE) : null;
    return {
      cameraId,
      kind: a?.model.kind ?? '',
      version: a?.version ?? 0,
      modelId: a?.origin?.modelId ?? '',
      sha256: a?.origin?.sha256 ?? (mainFile ? this.fileSha256(mainFile) : ''),
      state: state ?? 'active',
      message: message ?? '',
      versions: this.wholeVersions(cameraId),
    };
  }

  /**
   * Installs a model the owner's server sent as the camera's next version and makes it active: the files are
   * written to a staging dir, loaded once as the media process will load them (kind, sizes, hashes, tensor shapes),
   * and only then renamed into place. A model that does not load is refused and changes nothing.
   */
  async install(cameraId: string, files: { modelJson: string; onnx: Buffer }, origin: Origin): Promise<ActiveModel> {
    const camDir = this.cameraDir(cameraId);
    mkdirSync(camDir, { recursive: true, mode: 0o700 });
    const version = (this.versions(cameraId)[0] ?? 0) + 1;
    const stage = join(camDir, `.install-${version}-${process.pid}`);
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(stage, { mode: 0o700 });
    try {
      writeFileSync(join(stage, MODEL_FILE), files.modelJson, { mode: 0o600 });
      writeFileSync(join(stage, CAE_ONNX), files.onnx, { mode: 0o600 });
      writeFileSync(join(stage, 'origin.json'), JSON.stringify(origin), { mode: 0o600 });
      const { kind } = readModelKind(stage);
      if (kind !== CAE_KIND)
        throw new GuardianError('INVALID_ARGUMENT', `a ${kind} model cannot be installed from the server`);
      const m = await loadAnomalyModel(stage);
      await m.close();
      renameSync(stage, join(camDir, `v${version}`));
    } catch (err) {
      rmSync(stage, { recursive: true, force: true });
      throw err;
    }
    const active = this.setActive(cameraId, version);
    this.changes.set(cameraId, { at: new Date().toISOString(), state: 'active', message: null });
    this.log.info({ camera: cameraId, version, model: origin.modelId }, 'installed a model from the server; active');
    this.onActive(cameraId, active);
    return active;
  }

  /** Returns the camera to the whole version below the active one (the previous model). */
  rollback(cameraId: string, reason: string | null = null): ActiveModel {
    const a = this.active(cameraId);
    if (!a) throw new GuardianError('NOT_FOUND', `camera ${cameraId} has no anomaly model`);
    const previous = this.wholeVersions(cameraId).find((v) => v < a.version);
    if (previous === undefined)
      throw new GuardianError('CONFLICT', `camera ${cameraId} has no version before v${a.version} to roll back to`);
    const active = this.setActive(cameraId, previous);
    this.changes.set(cameraId, { at: new Date().toISOString(), state: 'rolled_back', message: reason });
    this.log.warn({ camera: cameraId, from: a.version, to: previous, reason }, 'anomaly model rolled back');
    this.onActive(cameraId, active);
    return active;
  }

  /** Records a deployment that did not take (the active model is unchanged). */
  refused(cameraId: string, message: string): void {
    this.changes.set(cameraId, { at: new Date().toISOString(), state: 'failed', message });
  }

  info(cameraId: string): Omit<AnomalyModelInfo, 'live'> | null {
    const a = this.active(cameraId);
    if (!a) return null;
    const common = {
      version: a.version,
      kind: a.model.kind,
      fittedAt: a.model.created,
      threshold: Math.round(a.model.threshold * 10_000) / 10_000,
      fps: a.model.params.fps,
      source: a.origin ? ('server' as const) : ('learned' as const),
      modelId: a.origin?.modelId ?? null,
      versions: this.wholeVersions(cameraId),
      lastChange: this.changes.get(cameraId) ?? null,
    };
    if (a.model.kind === CAE_KIND) {
      const t = (a.model as CaeModelFile).training;
      return {
        ...common,
        clips: 0,
        seconds: Math.round(t.frames / a.model.params.fps),
        regimes: ['any'],
        objectCues: false,
      };
    }
    const m = a.model as ModelFile & { calibration?: unknown };
    const f = m.fit;
    return {
      ...common,
      // A version 1 file has no regimes (one bank) and no object cues.
      regimes: m.regimes?.map((r) => r.name) ?? ['any'],
      objectCues: !!m.objects,
      clips: f.fitClips.length + f.heldOutClips.length,
      seconds: Math.round((f.fitFrames + f.heldOutFrames) / a.model.params.fps),
    };
  }

  state(cameraId: string, live: AnomalyModelInfo['live'] = null): AnomalyModelState {
    const lastFailure = this.failures.get(cameraId) ?? null;
    const job = this.jobs.get(cameraId);
    if (job)
      return { state: 'learning', progress: job.progress, startedAt: job.startedAt, hours: job.hours, lastFailure };
    const info = this.info(cameraId);
    if (info) return { state: 'active', ...info, live, lastFailure };
    if (lastFailure) return { state: 'failed', reason: lastFailure.reason, at: lastFailure.at, lastFailure };
    return { state: 'none', lastFailure: null };
  }

  /**
   * Starts learning normal from the last `hours` of the camera's recordings, or (`normalMoments`: the times of the
   * screenshots the owner labelled `normal` in Datasets) from the recordings around those moments; refuses at once
   * when too little.
   */
  learn(cameraId: string, hours: number, now = Date.now(), normalMoments?: number[]): AnomalyModelState {
    const camDir = this.cameraDir(cameraId);
    if (this.jobs.has(cameraId))
      throw new GuardianError('CONFLICT', `camera ${cameraId} is already learning normal; wait for it to finish`);
    const fromDataset = normalMoments !== undefined;
    const found = fromDataset
      ? [...normalMoments]
          .sort((a, b) => a - b)
          .flatMap((t) => this.sources.segments(cameraId, t - MOMENT_MARGIN_MS, t + MOMENT_MARGIN_MS))
      : this.sources.segments(cameraId, now - hours * 3_600_000, now);
    const seen = new Set<string>();
    const segments = found.filter((s) => {
      if (seen.has(s.path) || !(s.duration > 0) || !existsSync(s.path)) return false;
      seen.add(s.path);
      return true;
    });
    const seconds = segments.reduce((a, s) => a + s.duration, 0);
    if (segments.length < MIN_LEARN_CLIPS || seconds < MIN_LEARN_SECONDS)
      throw new GuardianError(
        'INVALID_ARGUMENT',
        fromDataset
          ? `too little footage to learn normal: camera ${cameraId} has ${normalMoments.length} screenshot${normalMoments.length === 1 ? '' : 's'} labelled normal, ` +
              `around which ${seconds.toFixed(0)} s in ${segments.length} recording${segments.length === 1 ? ' is' : 's are'} still kept; learning needs at least ` +
              `${MIN_LEARN_SECONDS} s in at least ${MIN_LEARN_CLIPS} recordings (label more screenshots normal in Datasets, or learn from the last hours)`
          : `too little footage to learn normal: camera ${cameraId} has ${seconds.toFixed(0)} s in ${segments.length} recording${segments.length === 1 ? '' : 's'} ` +
              `from the last ${hours} h; learning needs at least ${MIN_LEARN_SECONDS} s in at least ${MIN_LEARN_CLIPS} recordings ` +
              '(record longer, or choose more hours)',
      );
    mkdirSync(camDir, { recursive: true, mode: 0o700 });
    const version = (this.versions(cameraId)[0] ?? 0) + 1;
    const out = join(camDir, `v${version}`);
    // The dataset: links to the segments, named in time order (the fit holds out every 4th).
    const dataset = join(camDir, `.learn-${version}-${process.pid}`);
    rmSync(dataset, { recursive: true, force: true });
    mkdirSync(dataset, { mode: 0o700 });
    segments.forEach((s, i) => symlinkSync(s.path, join(dataset, `${String(i).padStart(6, '0')}.mp4`)));
    const fps = Math.round(scoringFps(this.sources.detectFps(cameraId)) * 100) / 100;
    const child = fork(workerPath, [], {
      execArgv: ['--import', 'tsx', '--single-threaded-gc'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    // Below the media process: a late fit costs nothing, a late decode costs frames.
    try {
      if (child.pid) setPriority(child.pid, 10);
    } catch {
      // not permitted here: it runs at normal priority
    }
    const job: Job = { child, progress: 0, startedAt: new Date(now).toISOString(), hours };
    this.jobs.set(cameraId, job);
    const started = performance.now();
    this.log.info(
      { camera: cameraId, version, clips: segments.length, seconds: Math.round(seconds), fps },
      'learning normal',
    );
    let outcome: LearnReport | undefined;
    child.on('message', (m: LearnReport) => {
      if (m.type === 'progress') job.progress = m.progress;
      else outcome = m;
    });
    child.on('exit', (code, signal) => {
      this.jobs.delete(cameraId);
      rmSync(dataset, { recursive: true, force: true });
      this.activeCache.delete(cameraId);
      const at = new Date().toISOString();
      if (outcome?.type === 'done' && this.readVersion(cameraId, version)) {
        this.failures.delete(cameraId);
        const active = this.setActive(cameraId, version);
        this.log.info(
          { camera: cameraId, version, seconds: Math.round((performance.now() - started) / 100) / 10 },
          'learned normal: new anomaly model active',
        );
        this.onActive(cameraId, active);
        return;
      }
      rmSync(out, { recursive: true, force: true }); // nothing half-written stays (writeModelDir is atomic anyway)
      const reason =
        outcome?.type === 'failed'
          ? outcome.message
          : `the fit stopped (${signal ?? `exit code ${code}`}) before writing a model`;
      this.failures.set(cameraId, { reason, at });
      this.log.warn({ camera: cameraId, version, reason }, 'learning normal failed; the active model is unchanged');
    });
    child.send({ dataset, out, fps, detector: this.sources.detector?.() ?? null } satisfies LearnRequest);
    return this.state(cameraId);
  }

  /** Stops learning (shutdown). */
  stop(): void {
    for (const job of this.jobs.values()) job.child.kill('SIGTERM');
  }
}
