// Models the owner's server deploys to this edge (docs/architecture.md, "Models"): a ModelPush on the control stream
// names a catalog model, its size, sha256 and model.json; the file is fetched on a call of its own, checked (size,
// sha256, the sha256 model.json names, its kind and tensor shapes by loading it once), installed as each camera's
// next version (the previous one kept) and activated at the camera's next frame, without restarting anything. A
// rollback returns cameras to the version below. Every outcome goes back as a ModelReport; a model that later fails
// to load in the media process is rolled back here and reported the same way.
import { createHash } from 'node:crypto';

import type { ModelReport } from '../../shared/link/generated/guardian/edge/v1/ModelReport.ts';
import type { VmRequest__Output } from '../../shared/link/generated/guardian/edge/v1/VmRequest.ts';
import type { Logger } from '../../shared/log.ts';
import { CAE_KIND } from './cae.ts';
import type { AnomalyModels } from './learn.ts';

/** A model file this large is refused before it is fetched. */
export const MAX_MODEL_BYTES = 256 * 1024 * 1024;

export interface ModelLink {
  fetchModel(modelId: string, maxBytes: number): Promise<Buffer>;
  reportModel(report: ModelReport): boolean;
}

export class ModelInstaller {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly models: AnomalyModels,
    private readonly link: ModelLink,
    private readonly cameraExists: (cameraId: string) => boolean,
    private readonly log: Logger,
  ) {}

  /** One request at a time, in the order they came. */
  handle(req: VmRequest__Output): Promise<unknown> {
    this.queue = this.queue.then(() => this.run(req)).catch((err) => this.log.error({ err }, 'model request failed'));
    return this.queue;
  }

  private async run(req: VmRequest__Output): Promise<void> {
    const cameras: NonNullable<ModelReport['cameras']> = [];
    const report: ModelReport = { requestId: req.requestId, modelId: req.model?.modelId ?? '', cameras };
    if (req.rollback) {
      for (const cameraId of req.rollback.cameraIds) {
        try {
          if (!this.cameraExists(cameraId)) throw new Error(`no camera ${cameraId} on this edge`);
          this.models.rollback(cameraId, 'asked by the owner');
          cameras.push(this.models.report(cameraId, 'rolled_back', 'asked by the owner'));
        } catch (err) {
          cameras.push(this.failed(cameraId, (err as Error).message));
        }
      }
    } else if (req.model) {
      const p = req.model;
      let bytes: Buffer | null = null;
      let refusal: string | null = null;
      try {
        if (p.kind !== CAE_KIND)
          throw new Error(`this edge installs ${CAE_KIND} models from the server, not ${p.kind}`);
        if (!(p.size > 0) || p.size > MAX_MODEL_BYTES) throw new Error(`a model of ${p.size} bytes is refused`);
        const named = (JSON.parse(p.modelJson) as { onnx?: { sha256?: string } }).onnx?.sha256;
        if (named !== p.sha256) throw new Error('model.json names another file than the one pushed (sha256 differs)');
        bytes = await this.link.fetchModel(p.modelId, p.size);
        const sha = createHash('sha256').update(bytes).digest('hex');
        if (bytes.length !== p.size || sha !== p.sha256)
          throw new Error(
            `the model file arrived damaged: ${bytes.length} bytes with sha256 ${sha.slice(0, 12)}…, expected ${p.size} bytes with ${p.sha256.slice(0, 12)}…`,
          );
      } catch (err) {
        refusal = (err as Error).message;
      }
      for (const cameraId of p.cameraIds) {
        try {
          if (refusal) throw new Error(refusal);
          if (!this.cameraExists(cameraId)) throw new Error(`no camera ${cameraId} on this edge`);
          await this.models.install(
            cameraId,
            { modelJson: p.modelJson, onnx: bytes as Buffer },
            { modelId: p.modelId, sha256: p.sha256 },
          );
          cameras.push(this.models.report(cameraId, 'active'));
        } catch (err) {
          cameras.push(this.failed(cameraId, (err as Error).message));
        }
      }
    }
    if (!this.link.reportModel(report))
      this.log.warn(
        { request: req.requestId },
        'the link went down before the model report; the next hello tells the server',
      );
  }

  private failed(cameraId: string, message: string) {
    this.log.warn({ camera: cameraId, message }, 'a model from the server was refused; the camera keeps its model');
    try {
      this.models.refused(cameraId, message);
      return this.models.report(cameraId, 'failed', message);
    } catch {
      return { cameraId, kind: '', version: 0, modelId: '', sha256: '', state: 'failed', message, versions: [] };
    }
  }

  /** The media process could not load or run a camera's active model: back to the previous one, and say so. */
  loadFailed(cameraId: string, version: number, message: string): void {
    const a = this.models.active(cameraId);
    if (!a || a.version !== version) return;
    let report: ModelReport;
    try {
      this.models.rollback(cameraId, `v${version} failed to load: ${message}`);
      report = {
        requestId: '',
        modelId: a.origin?.modelId ?? '',
        cameras: [this.models.report(cameraId, 'rolled_back', `v${version} failed to load: ${message}`)],
      };
    } catch (err) {
      report = {
        requestId: '',
        modelId: a.origin?.modelId ?? '',
        cameras: [this.failed(cameraId, `v${version} failed to load (${message}) and ${(err as Error).message}`)],
      };
    }
    this.link.reportModel(report);
  }
}
