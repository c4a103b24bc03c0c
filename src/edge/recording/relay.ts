// The media process's side of recording: it opens camera streams with the native recorder switched on and relays
// what the recorder reports (finished segments, paused, resumed) to the main process, which indexes the segments and
// keeps retention. It keeps only what its heartbeat shows: whether each camera records, and why not.
import { join } from 'node:path';

import type { RecorderEvent, SourceOptions } from '../../../bindings/index.ts';

export interface RelayStatus {
  recording: boolean;
  paused: boolean;
  reason: string | null;
}

export class RecorderRelay {
  private readonly status = new Map<string, RelayStatus>();

  constructor(
    private readonly settings: { root: string; segmentSeconds: number },
    private readonly forward: (cameraId: string, event: RecorderEvent) => void,
  ) {}

  setSegmentSeconds(seconds: number): void {
    this.settings.segmentSeconds = seconds;
  }

  sourceOptions(cameraId: string): Pick<SourceOptions, 'record' | 'onRecord'> {
    this.status.set(cameraId, { ...this.cameraStatus(cameraId), recording: true });
    return {
      record: {
        dir: join(this.settings.root, cameraId),
        camera: cameraId,
        segmentSeconds: this.settings.segmentSeconds,
      },
      onRecord: (e) => {
        const st = this.cameraStatus(cameraId);
        if (e.type === 'paused') this.status.set(cameraId, { ...st, paused: true, reason: `${e.message} [${e.code}]` });
        else if (e.type === 'resumed') this.status.set(cameraId, { ...st, paused: false, reason: null });
        this.forward(cameraId, e);
      },
    };
  }

  cameraStatus(cameraId: string): RelayStatus {
    return this.status.get(cameraId) ?? { recording: false, paused: false, reason: null };
  }
}
