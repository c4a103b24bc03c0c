// Recording benchmark: CPU and bytes/s of recording the 1080p stream in real time (stream copy, no decoding),
// and the time to cut a 30 s event clip from 10 s segments (target < 0.5 s).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuUsage } from 'node:process';

import { openSource } from '../bindings/index.ts';
import { defaultRecordingConfig, RecordingService } from '../src/edge/recording/service.ts';
import { openEdgeDatabase } from '../src/edge/schema.ts';
import { createLogger } from '../src/shared/log.ts';
import { sharedPath } from '../src/shared/paths.ts';

export async function benchRecord(progress: (m: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'guardian-bench-'));
  const file = sharedPath('media', 'vtest-1080p.mp4');
  try {
    const db = openEdgeDatabase(join(dir, 'guardian.db'));
    const rec = new RecordingService(
      db,
      { ...defaultRecordingConfig(join(dir, 'recordings')), disk: { minFreeBytes: 0, minFreeMinutes: 0 } },
      createLogger({ level: 'silent' }),
    );
    // 1. Real time, like a camera: what recording one 1080p stream costs.
    const seconds = 20;
    progress(`record: ${seconds} s of 1080p in real time`);
    const live = await openSource(file, { realtime: true, loop: true, decode: false, ...rec.sourceOptions('live') });
    const cpu0 = cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const cpu = cpuUsage(cpu0);
    const wall = (performance.now() - t0) / 1000;
    const stats = live.stats();
    await live.close();
    const written = rec.index.list('live').reduce((sum, s) => sum + s.bytes, 0);

    // 2. Clip extraction: a 30 s clip across four 10 s segments.
    progress('record: clip extraction');
    const fast = await openSource(file, { loop: true, decode: false, ...rec.sourceOptions('clips') });
    while (rec.index.list('clips').length < 8) await new Promise((r) => setTimeout(r, 20));
    await fast.close();
    const segs = rec.index.list('clips');
    const start = (segs[1]?.startMs ?? 0) + 5000;
    const times: number[] = [];
    let clip: Awaited<ReturnType<RecordingService['clip']>> | undefined;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      clip = await rec.clip('clips', start, start + 30_000, join(dir, 'clips', `clip${i}.mp4`));
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    db.close();
    return {
      realtime1080p: {
        seconds: Math.round(wall * 10) / 10,
        cpuCores: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 1000) / 1000,
        inputBytesPerSecond: Math.round(stats.bytes / wall),
        writtenBytesPerSecond: Math.round(written / wall),
        writtenToInputRatio: Math.round((written / Math.max(1, stats.bytes)) * 1000) / 1000,
      },
      clip30s: {
        extractionMs: Math.round((times[2] ?? 0) * 10) / 10,
        target: '< 500 ms',
        durationSeconds: clip?.durationSeconds,
        bytes: clip?.bytes,
        startsOnKeyframe: clip?.startsOnKeyframe,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
