// Shared by the archive tests: a VM on loopback with paired edges that push events and upload archive objects through
// a real gRPC link (no tunnel), and small HTTP and polling helpers.
import { createHash, randomBytes } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import type * as grpc from '@grpc/grpc-js';
import { ulid } from 'ulidx';

import { type ArchiveObjectHeader, uploadObject } from '../../src/edge/link/archive-upload.ts';
import { type LinkSettings, pairEdge } from '../../src/edge/link/pairing.ts';
import {
  createLinkClient,
  credentialMetadata,
  type EdgeLinkClient,
  type EventJson,
  toWireEvent,
} from '../../src/shared/link/proto.ts';
import type { Vm } from '../../src/vm/runtime.ts';

export async function until<T>(fn: () => T | undefined | null | false, timeoutMs = 10_000, what = 'a condition') {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** A body that yields the bytes in chunks of a given size (a file read, a socket). */
export const chunked = (bytes: Buffer, size = 100_000) =>
  Readable.from(
    (function* () {
      for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
    })(),
  );

/** An edge paired with the VM that talks to it directly through the generated client. */
export class TestEdge {
  readonly client: EdgeLinkClient;
  readonly md: grpc.Metadata;

  private constructor(readonly settings: LinkSettings) {
    this.client = createLinkClient(settings.grpc);
    this.md = credentialMetadata(settings.edgeId, settings.secret);
  }

  static async pair(vm: Vm, dataDir: string, name: string): Promise<TestEdge> {
    const { code } = vm.issuePairing(name);
    return new TestEdge(await pairEdge(code, dataDir, { name }));
  }

  get edgeId(): string {
    return this.settings.edgeId;
  }

  /** Delivers an event (as the outbox would) and returns its id. */
  async event(cameraId: string, options: { startMs?: number; protected?: boolean; id?: string } = {}) {
    const startMs = options.startMs ?? Date.now() - 5000;
    const e: EventJson = {
      id: options.id ?? ulid(startMs),
      cameraId,
      trackId: 1,
      label: 'person',
      labels: ['person'],
      zones: [],
      startMs,
      endMs: startMs + 4000,
      maxScore: 0.9,
      meanScore: 0.8,
      detections: 12,
      boxPath: [],
      protected: options.protected ?? false,
      updatedMs: Date.now(),
      hasSnapshot: true,
      hasClip: true,
      severity: null,
      verdict: null,
      secondOpinion: null,
    };
    await new Promise<void>((resolve, reject) =>
      this.client.PushEvents(
        { events: [{ deliveryId: 1, kind: 'event.end', event: toWireEvent(e) }] },
        this.md,
        (err, acks) =>
          err ? reject(err) : acks?.acks[0]?.status === 'REJECTED' ? reject(new Error('rejected')) : resolve(),
      ),
    );
    return e.id;
  }

  upload(
    header: Omit<ArchiveObjectHeader, 'size' | 'sha256' | 'protected'> &
      Partial<Pick<ArchiveObjectHeader, 'size' | 'sha256' | 'protected'>>,
    bytes: Buffer,
  ): Promise<'STORED' | 'UNCHANGED'> {
    return uploadObject(
      this.client,
      this.md,
      { size: bytes.length, sha256: sha256(bytes), protected: false, ...header },
      chunked(bytes),
    );
  }

  close(): void {
    this.client.close();
  }
}

export const random = (n: number) => randomBytes(n);

export function apiGet(vm: { url: string; apiToken: string }, path: string, headers: Record<string, string> = {}) {
  return fetch(`${vm.url}${path}`, { headers: { Authorization: `Bearer ${vm.apiToken}`, ...headers } });
}

export const objectFile = (vmDataDir: string, cameraId: string, eventId: string, file: string) =>
  join(vmDataDir, 'archive', `camera-${cameraId}`, 'events', eventId, `${file}.gdna`);
