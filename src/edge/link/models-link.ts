// The edge's side of the dataset and model calls: a dataset ZIP uploaded on an UploadDataset call of its own (header,
// chunks, end marker, read only as fast as the call drains), and a deployed model's file read on a FetchModel call,
// bounded in size (the push said how big it is).
import { createReadStream } from 'node:fs';

import * as grpc from '@grpc/grpc-js';

import type { DatasetChunk } from '../../shared/link/generated/guardian/edge/v1/DatasetChunk.ts';
import type { DatasetReceipt__Output } from '../../shared/link/generated/guardian/edge/v1/DatasetReceipt.ts';
import type { ModelChunk__Output } from '../../shared/link/generated/guardian/edge/v1/ModelChunk.ts';
import { clipChunkBytes, type EdgeLinkClient } from '../../shared/link/proto.ts';
import { drainedOrEnded } from './flow.ts';

export interface DatasetUploadHeader {
  uploadId: string;
  name: string;
  size: number;
  sha256: string;
}

export function uploadDataset(
  client: EdgeLinkClient,
  metadata: grpc.Metadata,
  header: DatasetUploadHeader,
  file: string,
  deadlineMs = 10 * 60_000,
): Promise<DatasetReceipt__Output> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const call: grpc.ClientWritableStream<DatasetChunk> = client.UploadDataset(
      metadata,
      { deadline: Date.now() + deadlineMs },
      (err, receipt) => {
        answered = true;
        if (err) reject(err);
        else if (receipt) resolve(receipt);
        else reject(new Error('the VM sent no receipt'));
      },
    );
    const pump = async () => {
      call.write({ header });
      for await (const chunk of createReadStream(file, { highWaterMark: clipChunkBytes })) {
        if (answered) return;
        if (!call.write({ data: chunk as Buffer })) await drainedOrEnded(call);
      }
      if (answered) return;
      call.write({ end: {} });
      call.end();
    };
    pump().catch(() => call.cancel());
  });
}

/** The bytes of a model being deployed here; more than `maxBytes` is refused as it arrives. */
export function fetchModel(
  client: EdgeLinkClient,
  metadata: grpc.Metadata,
  modelId: string,
  maxBytes: number,
  deadlineMs = 5 * 60_000,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const call = client.FetchModel({ modelId }, metadata, { deadline: Date.now() + deadlineMs });
    const chunks: Buffer[] = [];
    let n = 0;
    call.on('data', (c: ModelChunk__Output) => {
      n += c.data.length;
      if (n > maxBytes) {
        call.cancel();
        reject(
          Object.assign(new Error(`the model is larger than the ${maxBytes} bytes announced`), {
            code: grpc.status.DATA_LOSS,
          }),
        );
        return;
      }
      chunks.push(c.data);
    });
    call.on('error', reject);
    call.on('end', () => resolve(Buffer.concat(chunks)));
  });
}
