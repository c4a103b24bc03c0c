// Run inside a network namespace by test/e2e/tunnel.test.ts: pushes one batch of events to the VM three times with
// the edge's own credential (from its link.json) and prints the acknowledgement statuses, or the refusal, as JSON.
import * as grpc from '@grpc/grpc-js';

import { readLinkSettings } from '../../src/edge/link/pairing.ts';
import type { EventAcks__Output } from '../../src/shared/link/generated/guardian/edge/v1/EventAcks.ts';
import { createLinkClient, credentialMetadata, toWireEvent } from '../../src/shared/link/proto.ts';

const [dataDir, idPrefix] = process.argv.slice(2) as [string, string];
const settings = readLinkSettings(dataDir);
if (!settings) throw new Error(`not paired: ${dataDir}`);
const client = createLinkClient(settings.grpc);
const base = Date.now() - 3_600_000;
const batch = {
  events: [0, 1, 2].map((i) => ({
    deliveryId: i + 1,
    kind: 'event.start',
    event: toWireEvent({
      id: `${idPrefix}${i}`,
      cameraId: 'probe',
      trackId: i,
      label: 'person',
      labels: ['person'],
      zones: [],
      startMs: base + i,
      endMs: null,
      maxScore: 0.9,
      meanScore: 0.8,
      detections: 1,
      boxPath: [],
      protected: false,
      updatedMs: base + i,
      hasSnapshot: false,
      hasClip: false,
      severity: null,
      verdict: null,
      secondOpinion: null,
    }),
  })),
};
const rounds: string[][] = [];
try {
  for (let r = 0; r < 3; r++) {
    const acks = await new Promise<EventAcks__Output>((resolve, reject) =>
      client.PushEvents(
        batch,
        credentialMetadata(settings.edgeId, settings.secret),
        { deadline: Date.now() + 10_000 },
        (err, v) => (err || !v ? reject(err) : resolve(v)),
      ),
    );
    rounds.push(acks.acks.map((a) => a.status));
  }
  console.log(JSON.stringify({ rounds }));
} catch (err) {
  console.log(JSON.stringify({ error: (err as grpc.ServiceError).code, details: (err as grpc.ServiceError).details }));
}
client.close();
