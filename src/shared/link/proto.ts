// The edge↔VM protocol (proto/guardian/edge/v1/link.proto) loaded at run time, with the generated types
// (`npm run proto` regenerates src/shared/link/generated) and the conversions between the edge's event JSON and the
// wire message.
import { createHash, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { EventJson } from '../api-types.ts';
import { projectRoot } from '../paths.ts';
import type { EdgeLinkClient } from './generated/guardian/edge/v1/EdgeLink.ts';
import type { Event, Event__Output } from './generated/guardian/edge/v1/Event.ts';
import type { ProtoGrpcType } from './generated/link.ts';

export type * from './generated/guardian/edge/v1/EdgeLink.ts';

// The same options the types were generated with (see the `proto` script in package.json).
const loaderOptions: protoLoader.Options = {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [join(projectRoot, 'proto')],
};

let cached: ProtoGrpcType['guardian']['edge']['v1'] | undefined;

export function linkPackage(): ProtoGrpcType['guardian']['edge']['v1'] {
  if (!cached) {
    const definition = protoLoader.loadSync('guardian/edge/v1/link.proto', loaderOptions);
    // The one place the loaded package meets its generated type (proto-loader's documented pattern).
    cached = (grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType).guardian.edge.v1;
  }
  return cached;
}

// Clips and model files travel in chunks; allow a little more than one chunk per message.
export const maxMessageBytes = 4 * 1024 * 1024;
export const clipChunkBytes = 256 * 1024;

/** A client of the VM's link service (the edge side); the tunnel encrypts, so the channel itself is plain. */
export function createLinkClient(target: string, options: grpc.ChannelOptions = {}): EdgeLinkClient {
  return new (linkPackage().EdgeLink)(target, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    ...options,
  });
}

/** The event JSON the edge stores and the VM caches (the edge's eventPayload). */
export type { EventJson };

export function toWireEvent(e: EventJson): Event {
  const { endMs, boxPath, severity, verdict, secondOpinion, ...same } = e;
  return {
    ...same,
    ...(endMs === null ? {} : { endMs }),
    ...(severity === null ? {} : { severity }),
    ...(verdict === null ? {} : { verdict }),
    ...(secondOpinion ? { secondOpinion: secondOpinion.verdict, secondOpinionScore: secondOpinion.score } : {}),
    boxPath: boxPath.map(([tMs, ...box]) => ({ tMs, box })),
  };
}

export function fromWireEvent(e: Event__Output): EventJson {
  // `_endMs` (and the others) are proto-loader's markers for optional fields: not part of the event.
  const { endMs, boxPath, _endMs, severity, _severity, verdict, _verdict, ...rest } = e;
  const { secondOpinion, _secondOpinion, secondOpinionScore, _secondOpinionScore, ...same } = rest;
  const judged = (v: string | undefined) => (v === 'confirmed' || v === 'false_positive' ? v : null);
  const second = judged(secondOpinion);
  return {
    ...same,
    endMs: endMs ?? null,
    severity: severity ?? null,
    verdict: judged(verdict),
    secondOpinion: second ? { verdict: second, score: secondOpinionScore ?? 0 } : null,
    boxPath: boxPath.map((p) => [p.tMs, ...p.box]),
  };
}

/** An edge's credential is "<edge id>.<secret>"; the VM keeps only the secret's SHA-256. */
export function credentialHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function parseCredential(header: string | undefined): { edgeId: string; secret: string } | null {
  const m = /^Bearer ([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{16,128})$/.exec(header ?? '');
  return m ? { edgeId: m[1] as string, secret: m[2] as string } : null;
}

export function hashMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(credentialHash(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function credentialMetadata(edgeId: string, secret: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${edgeId}.${secret}`);
  return md;
}
