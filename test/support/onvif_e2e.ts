// Runs inside the "NVR" network namespace of the ONVIF test: discover -> add -> wait until online, print JSON.
// Credentials come from GUARDIAN_ONVIF_USERNAME / GUARDIAN_ONVIF_PASSWORD.
import { Writable } from 'node:stream';

import { CameraManager } from '../../src/edge/cameras/manager.ts';
import { CameraRegistry } from '../../src/edge/cameras/registry.ts';
import { discoverOnvif } from '../../src/edge/discovery/onvif.ts';
import { openEdgeDatabase } from '../../src/edge/schema.ts';
import { createLogger } from '../../src/shared/log.ts';

const username = process.env.GUARDIAN_ONVIF_USERNAME ?? '';
const password = process.env.GUARDIAN_ONVIF_PASSWORD ?? '';
const logs: string[] = [];
const log = createLogger({
  level: 'debug',
  destination: new Writable({
    write(chunk, _e, cb) {
      logs.push(chunk.toString());
      cb();
    },
  }),
});

const devices = await discoverOnvif({ timeoutMs: 2000, username, password });
const found = devices.find((d) => d.camera);
const result: Record<string, unknown> = { devices };
if (found?.camera) {
  const reg = new CameraRegistry(openEdgeDatabase(':memory:'));
  const cam = reg.add({ ...found.camera, password });
  result.added = cam;
  const manager = new CameraManager(reg, log, {
    stallTimeoutMs: 5000,
    connectTimeoutMs: 5000,
    backoff: { initialMs: 500, maxMs: 2000, factor: 2, jitter: 0.2 },
  });
  manager.start();
  const t0 = Date.now();
  while (Date.now() - t0 < 20_000 && reg.get(cam.id).health.status !== 'online')
    await new Promise((r) => setTimeout(r, 100));
  result.onlineAfterMs = Date.now() - t0;
  result.final = reg.get(cam.id);
  await manager.stop();
}
result.logs = logs;
console.log(JSON.stringify(result));
process.exit(0);
