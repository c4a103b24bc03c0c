// The training queue: jobs in SQLite (so a restart loses none: a job that was running is queued again and starts
// over), run one at a time by default, each a PyTorch worker (src/vm/training/cae-trainer.ts) at low priority.
// A finished job's model enters the catalog; a failed one says why; a queued or running one can be cancelled.
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { ulid } from 'ulidx';

import { CAE_KIND, CAE_ONNX } from '../../edge/anomaly/cae.ts';
import type { Db } from '../../shared/db.ts';
import { GuardianError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { MIN_NORMAL_FRAMES, type TrainProgress, trainCae } from '../training/cae-trainer.ts';
import type { ModelCatalog } from './catalog.ts';
import type { VmDatasets } from './datasets.ts';

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface TrainingJob {
  jobId: string;
  datasetId: string;
  cameraId: string | null;
  kind: string;
  options: { epochs: number };
  state: JobState;
  progress: { stage?: string; epoch?: number; epochs?: number; loss?: number; valLoss?: number; frames?: number };
  logs: string[];
  error: string | null;
  modelId: string | null;
  attempts: number;
  created: number;
  started: number | null;
  finished: number | null;
}

interface Row {
  job_id: string;
  dataset_id: string;
  camera_id: string | null;
  kind: string;
  options: string;
  state: JobState;
  progress: string;
  logs: string;
  error: string | null;
  model_id: string | null;
  attempts: number;
  created: number;
  started: number | null;
  finished: number | null;
}

const toJob = (r: Row): TrainingJob => ({
  jobId: r.job_id,
  datasetId: r.dataset_id,
  cameraId: r.camera_id,
  kind: r.kind,
  options: JSON.parse(r.options),
  state: r.state,
  progress: JSON.parse(r.progress),
  logs: JSON.parse(r.logs),
  error: r.error,
  modelId: r.model_id,
  attempts: r.attempts,
  created: r.created,
  started: r.started,
  finished: r.finished,
});

export class TrainingQueue {
  private running = new Map<string, AbortController>();
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly datasets: VmDatasets,
    private readonly catalog: ModelCatalog,
    private readonly log: Logger,
    private readonly options: { concurrency: number; maxFramesPerJob?: number },
  ) {
    // Jobs a previous run of the server left running start over.
    const again = this.db
      .prepare("UPDATE training_jobs SET state = 'queued', started = NULL WHERE state = 'running'")
      .run();
    if (again.changes) log.info({ jobs: again.changes }, 'training jobs interrupted by a restart are queued again');
  }

  start(): void {
    this.next();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const ac of this.running.values()) ac.abort();
    // Their rows stay `running`: the next start queues them again.
    while (this.running.size) await new Promise((r) => setTimeout(r, 50));
  }

  enqueue(req: { datasetId: string; cameraId?: string; kind: string; epochs?: number }): TrainingJob {
    if (req.kind !== CAE_KIND)
      throw new GuardianError('INVALID_ARGUMENT', `kind must be ${CAE_KIND} (knn-patch models are fitted on the edge)`);
    const d = this.datasets.get(req.datasetId);
    if (req.cameraId && !d.cameras.includes(req.cameraId))
      throw new GuardianError('INVALID_ARGUMENT', `dataset ${d.datasetId} has no images of camera ${req.cameraId}`);
    const normal = d.labels.normal ?? 0;
    if (normal < MIN_NORMAL_FRAMES)
      throw new GuardianError(
        'INVALID_ARGUMENT',
        `dataset ${d.datasetId} has ${normal} normal images; training needs at least ${MIN_NORMAL_FRAMES} (label more normal screenshots)`,
      );
    const jobId = ulid();
    this.db
      .prepare(
        `INSERT INTO training_jobs (job_id, dataset_id, camera_id, kind, options, state, created)
         VALUES (?, ?, ?, ?, ?, 'queued', ?)`,
      )
      .run(
        jobId,
        d.datasetId,
        req.cameraId ?? null,
        req.kind,
        JSON.stringify({ epochs: req.epochs ?? 30 }),
        Date.now(),
      );
    setImmediate(() => this.next());
    return this.get(jobId);
  }

  get(jobId: string): TrainingJob {
    const r = this.db.prepare('SELECT * FROM training_jobs WHERE job_id = ?').get(jobId) as Row | undefined;
    if (!r) throw new GuardianError('NOT_FOUND', `no training job ${jobId}`);
    return toJob(r);
  }

  list(): TrainingJob[] {
    return (this.db.prepare('SELECT * FROM training_jobs ORDER BY created DESC LIMIT 200').all() as Row[]).map(toJob);
  }

  cancel(jobId: string): TrainingJob {
    const job = this.get(jobId);
    if (job.state === 'queued')
      this.db
        .prepare("UPDATE training_jobs SET state = 'cancelled', finished = ? WHERE job_id = ?")
        .run(Date.now(), jobId);
    else if (job.state === 'running') this.running.get(jobId)?.abort();
    else throw new GuardianError('CONFLICT', `job ${jobId} is ${job.state}: nothing to cancel`);
    return this.get(jobId);
  }

  private next(): void {
    if (this.stopped || this.running.size >= this.options.concurrency) return;
    const r = this.db.prepare("SELECT * FROM training_jobs WHERE state = 'queued' ORDER BY created LIMIT 1").get() as
      | Row
      | undefined;
    if (!r) return;
    const ac = new AbortController();
    this.running.set(r.job_id, ac);
    this.db
      .prepare("UPDATE training_jobs SET state = 'running', started = ?, attempts = attempts + 1 WHERE job_id = ?")
      .run(Date.now(), r.job_id);
    void this.run(toJob(r), ac).finally(() => {
      this.running.delete(r.job_id);
      this.next();
    });
    this.next();
  }

  private async run(job: TrainingJob, ac: AbortController): Promise<void> {
    const logs: string[] = [...job.logs];
    const say = (line: string) => {
      logs.push(`${new Date().toISOString()} ${line}`);
      if (logs.length > 200) logs.shift();
    };
    let lastWrite = 0;
    const progress = (p: TrainProgress) => {
      const now = Date.now();
      if (p.stage === 'training')
        say(
          `epoch ${p.done}/${p.total}: loss ${p.loss?.toFixed(5)}, held-out ${p.valLoss?.toFixed(5)}, ${p.epochSeconds} s`,
        );
      if (p.stage === 'decoding' && now - lastWrite < 1000) return;
      lastWrite = now;
      const value =
        p.stage === 'decoding'
          ? { stage: 'decoding', frames: p.done }
          : { stage: 'training', epoch: p.done, epochs: p.total, loss: p.loss, valLoss: p.valLoss };
      this.db
        .prepare('UPDATE training_jobs SET progress = ?, logs = ? WHERE job_id = ?')
        .run(JSON.stringify(value), JSON.stringify(logs), job.jobId);
    };
    const modelId = ulid();
    const out = join(this.catalog.root, modelId);
    say(
      `training ${job.kind} on dataset ${job.datasetId}${job.cameraId ? `, camera ${job.cameraId}` : ''} (attempt ${job.attempts + 1})`,
    );
    this.log.info({ job: job.jobId, dataset: job.datasetId, camera: job.cameraId }, 'training started');
    try {
      const dataset = this.datasets.get(job.datasetId);
      const model = await trainCae(
        {
          dataset: dataset.dir,
          out,
          epochs: job.options.epochs,
          signal: ac.signal,
          ...(job.cameraId ? { cameraId: job.cameraId } : {}),
          ...(this.options.maxFramesPerJob ? { maxFrames: this.options.maxFramesPerJob } : {}),
        },
        progress,
      );
      const onnx = readFileSync(join(out, CAE_ONNX));
      const entry = this.catalog.addTrained({
        modelId,
        kind: model.kind,
        cameraId: job.cameraId,
        datasetId: job.datasetId,
        sha256: createHash('sha256').update(onnx).digest('hex'),
        size: onnx.length,
        metrics: {
          threshold: model.threshold,
          valLoss: model.training.valLoss,
          epochs: model.training.epochs,
          bestEpoch: model.training.bestEpoch,
          secondsPerEpoch: model.training.secondsPerEpoch,
          trainFrames: model.training.trainFrames,
          heldOutFrames: model.training.heldOutFrames,
          trainingSetSha256: model.training.trainingSetSha256,
        },
      });
      say(
        `done: model ${entry.modelId} (${entry.name} v${entry.version}), threshold ${model.threshold.toPrecision(4)}`,
      );
      this.db
        .prepare("UPDATE training_jobs SET state = 'done', model_id = ?, finished = ?, logs = ? WHERE job_id = ?")
        .run(entry.modelId, Date.now(), JSON.stringify(logs), job.jobId);
      this.log.info({ job: job.jobId, model: entry.modelId }, 'training done');
    } catch (err) {
      rmSync(out, { recursive: true, force: true });
      if (this.stopped) return; // the server is stopping: the job stays `running`, queued again at the next start
      const cancelled = ac.signal.aborted;
      const message = cancelled ? 'cancelled by the owner' : (err as Error).message;
      say(cancelled ? 'cancelled' : `failed: ${message}`);
      this.db
        .prepare('UPDATE training_jobs SET state = ?, error = ?, finished = ?, logs = ? WHERE job_id = ?')
        .run(cancelled ? 'cancelled' : 'failed', message, Date.now(), JSON.stringify(logs), job.jobId);
      if (!cancelled) this.log.warn({ job: job.jobId, err: message }, 'training failed');
    }
  }
}
