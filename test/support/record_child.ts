// A recording process for the crash test: records a looping real-time file camera and prints each finished segment.
// Usage: node --import tsx record_child.ts <data-dir> <video> <segment-seconds>
import { join } from 'node:path';

import { CameraManager } from '../../src/edge/cameras/manager.ts';
import { CameraRegistry } from '../../src/edge/cameras/registry.ts';
import { defaultRecordingConfig, RecordingService } from '../../src/edge/recording/service.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import { createLogger } from '../../src/shared/log.ts';

const [dataDir = '/tmp/guardian-rec', video = '', seconds = '2'] = process.argv.slice(2);
const log = createLogger({ level: 'warn' });
const db = openEdgeDatabase(join(dataDir, 'guardian.db'));
const recording = new RecordingService(
  db,
  {
    ...defaultRecordingConfig(join(dataDir, 'recordings')),
    segmentSeconds: Number(seconds),
    disk: { minFreeBytes: 0, minFreeMinutes: 0 },
  },
  log,
);
const report = await recording.reconcile();
console.log(`RECONCILED ${JSON.stringify(report)}`);
recording.on('segment', (s) => console.log(`SEGMENT ${s.path}`));
const registry = new CameraRegistry(db);
if (!registry.list().length) registry.add({ id: 'yard', name: 'Yard', kind: 'file', recordUrl: video, detectFps: 5 });
const manager = new CameraManager(
  registry,
  log,
  { stallTimeoutMs: 5000, connectTimeoutMs: 5000, backoff: { initialMs: 500, maxMs: 2000, factor: 2, jitter: 0.1 } },
  recording,
);
manager.start();
console.log('STARTED');
process.on('SIGTERM', async () => {
  await manager.stop();
  db.close();
  process.exit(0);
});
