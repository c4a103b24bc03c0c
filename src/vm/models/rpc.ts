// The link's dataset and model RPCs, for an edge the link server has authenticated: UploadDataset (a labelled
// dataset on a stream of its own, answered once checked and stored) and FetchModel (the file of a model being
// deployed to this edge, and to no other).
import { createReadStream } from 'node:fs';

import * as grpc from '@grpc/grpc-js';

import type { DatasetChunk__Output } from '../../shared/link/generated/guardian/edge/v1/DatasetChunk.ts';
import type { DatasetReceipt } from '../../shared/link/generated/guardian/edge/v1/DatasetReceipt.ts';
import type { ModelChunk } from '../../shared/link/generated/guardian/edge/v1/ModelChunk.ts';
import type { ModelFetchRequest__Output } from '../../shared/link/generated/guardian/edge/v1/ModelFetchRequest.ts';
import { clipChunkBytes } from '../../shared/link/proto.ts';
import type { Logger } from '../../shared/log.ts';
import { DatasetRefusal, type VmDatasets } from './datasets.ts';
import type { ModelDeployments } from './deploy.ts';

export function handleUploadDataset(
  datasets: VmDatasets | undefined,
  edgeId: string,
  call: grpc.ServerReadableStream<DatasetChunk__Output, DatasetReceipt>,
  callback: grpc.sendUnaryData<DatasetReceipt>,
  log: Logger,
): void {
  if (!datasets) return callback({ code: grpc.status.UNIMPLEMENTED, details: 'this VM takes no datasets' });
  (async () => {
    const it = (call as AsyncIterable<DatasetChunk__Output>)[Symbol.asyncIterator]();
    const first = await it.next();
    const header = first.value?.header;
    if (first.done || !header) throw new DatasetRefusal('INVALID_ARGUMENT', 'the first message must be the header');
    const rest = { [Symbol.asyncIterator]: () => it } as AsyncIterable<DatasetChunk__Output>;
    const body = (async function* () {
      for await (const c of rest) {
        if (c.data) yield c.data;
        else if (c.end) return;
      }
      throw new DatasetRefusal('DATA_LOSS', 'the upload ended without its end marker');
    })();
    return datasets.receive(edgeId, header, body);
  })().then(
    (d) => callback(null, { datasetId: d.datasetId, images: d.images, normal: d.labels.normal ?? 0 }),
    (err: unknown) => {
      const refusal = err instanceof DatasetRefusal ? err : null;
      if (!refusal) log.error({ err, edge: edgeId }, 'dataset upload failed');
      else log.warn({ edge: edgeId, reason: refusal.message }, 'dataset upload refused');
      callback({
        code: refusal ? grpc.status[refusal.code] : grpc.status.UNAVAILABLE,
        details: refusal?.message ?? 'the VM could not store the dataset; send it again later',
      });
    },
  );
}

export function handleFetchModel(
  deployments: ModelDeployments | undefined,
  edgeId: string,
  call: grpc.ServerWritableStream<ModelFetchRequest__Output, ModelChunk>,
  log: Logger,
): void {
  const file = deployments?.modelFileFor(edgeId, call.request.modelId);
  if (!file) {
    call.emit('error', { code: grpc.status.NOT_FOUND, details: 'no such model is being deployed to this edge' });
    return;
  }
  const src = createReadStream(file, { highWaterMark: clipChunkBytes });
  src.on('data', (c) => {
    if (!call.write({ data: c as Buffer })) {
      src.pause();
      call.once('drain', () => src.resume());
    }
  });
  src.on('end', () => call.end());
  src.on('error', (err) => {
    log.error({ err, edge: edgeId }, 'could not read a model file');
    call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'the VM could not read the model file' });
  });
  call.on('cancelled', () => src.destroy());
}
