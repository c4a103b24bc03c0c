// An event's best view: the full frame and a 320-px thumbnail, encoded by the media process from its frame ring
// and written under <dataDir>/snapshots/<camera>/ (names from the event id, never from a request).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import type { Box } from '../detect/types.ts';
import type { MediaProcess } from '../media/process.ts';
import type { FrameDetections } from '../media/protocol.ts';
import type { EventRecord } from './store.ts';

export async function writeEventSnapshot(
  dataDir: string,
  media: MediaProcess,
  ev: EventRecord,
  frame: FrameDetections,
  box: Box,
): Promise<{ snapshot: string; thumbnail: string; snapshotBox: Box }> {
  const at = { cameraId: frame.cameraId, frameIndex: frame.frameIndex };
  const [full, thumb] = await Promise.all([
    media.request('snapshot', { ...at, width: 0, quality: 90 }),
    media.request('snapshot', { ...at, width: 320, quality: 80 }),
  ]);
  const snapshot = join('snapshots', ev.cameraId, `${ev.id}.jpg`);
  const thumbnail = join('snapshots', ev.cameraId, `${ev.id}-thumb.jpg`);
  mkdirSync(dirname(join(dataDir, snapshot)), { recursive: true });
  writeFileSync(join(dataDir, snapshot), Buffer.from(full));
  writeFileSync(join(dataDir, thumbnail), Buffer.from(thumb));
  return { snapshot, thumbnail, snapshotBox: box.map((v) => Math.round(v)) as Box };
}
