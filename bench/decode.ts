// Decode benchmark: the addon against the ffmpeg CLI on the same 1080p file with the same thread count.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

import { decodeSource } from '../src/commands/media.ts';
import { sharedPath } from '../src/shared/paths.ts';

export interface DecodeBench {
  file: string;
  threads: number;
  frames: number;
  addonFps: number;
  ffmpegFps: number;
  ratio: number;
  target: string;
  runs: number;
  peakRssMB: number;
  rssGrowthMBOver10Decodes: number;
  rssAfterDecodesMB: number[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

function ffmpegSeconds(file: string, threads: number): number {
  const t0 = performance.now();
  const r = spawnSync('ffmpeg', [
    '-hide_banner',
    '-nostats',
    '-v',
    'error',
    '-threads',
    String(threads),
    '-i',
    file,
    '-an',
    '-f',
    'null',
    '-',
  ]);
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

export async function benchDecode(progress: (msg: string) => void): Promise<DecodeBench> {
  const file = sharedPath('media', 'vtest-1080p.mp4');
  const threads = availableParallelism();
  const options = {
    fps: 5,
    threads,
    hwaccel: 'none' as const,
    tensor: { size: 416, layout: 'nchw-float32' as const },
    motionWidth: 160,
  };
  const runs = 9;
  const addon: number[] = [];
  const ffmpeg: number[] = [];
  let frames = 0;
  // Interleave the two so that machine load affects both alike.
  for (let i = 0; i < runs; i++) {
    progress(`decode: run ${i + 1}/${runs}`);
    const s = await decodeSource(file, options);
    frames = s.decodedFrames;
    addon.push(s.wallSeconds);
    ffmpeg.push(ffmpegSeconds(file, threads));
  }
  const addonFps = frames / median(addon);
  const ffmpegFps = frames / median(ffmpeg);

  // Memory over 10 consecutive decodes of the file: should stay flat.
  const rss: number[] = [];
  for (let i = 0; i < 10; i++) {
    progress(`decode: leak check ${i + 1}/10`);
    await decodeSource(file, options);
    global.gc?.();
    rss.push(process.memoryUsage().rss / 1024 / 1024);
  }
  return {
    file,
    threads,
    frames,
    addonFps: Math.round(addonFps * 10) / 10,
    ffmpegFps: Math.round(ffmpegFps * 10) / 10,
    ratio: Math.round((addonFps / ffmpegFps) * 1000) / 1000,
    target: 'ratio >= 0.95',
    runs,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    rssGrowthMBOver10Decodes: Math.round(((rss[9] ?? 0) - (rss[0] ?? 0)) * 10) / 10,
    rssAfterDecodesMB: rss.map((x) => Math.round(x)),
  };
}
