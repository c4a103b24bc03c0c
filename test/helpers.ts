// Shared by the tests: paths to the shared media, and ffmpeg/ffprobe as independent references.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { projectRoot, sharedPath } from '../src/shared/paths.ts';

export const execFileAsync = promisify(execFile);

export const media = {
  vtest: sharedPath('media', 'vtest.mp4'),
  vtest1080: sharedPath('media', 'vtest-1080p.mp4'),
  city: sharedPath('media', 'city-no-people.mp4'),
};

/** Frames FFmpeg itself reads by decoding the whole file (ffprobe -count_frames). */
export async function ffprobeFrameCount(file: string): Promise<number> {
  const { stdout } = await execFileAsync('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-count_frames',
    '-show_entries',
    'stream=nb_read_frames',
    '-of',
    'default=nw=1:nk=1',
    file,
  ]);
  return Number(stdout.trim());
}

/** Duration, decoded frame count and whether the first frame is a keyframe, as ffprobe sees a file. */
export async function ffprobeSegment(path: string): Promise<{ duration: number; frames: number; firstKey: boolean }> {
  const [{ stdout }, { stdout: first }] = await Promise.all([
    execFileAsync('ffprobe', [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-count_frames',
      '-show_entries',
      'stream=nb_read_frames:format=duration',
      '-of',
      'json',
      path,
    ]),
    execFileAsync('ffprobe', [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-read_intervals',
      '%+#1',
      '-show_entries',
      'frame=key_frame',
      '-of',
      'csv=p=0',
      path,
    ]),
  ]);
  const j = JSON.parse(stdout);
  return {
    duration: Number(j.format.duration),
    frames: Number(j.streams[0].nb_read_frames),
    firstKey: first.trim().startsWith('1'),
  };
}

export async function ffprobeJson(file: string): Promise<{
  streams: { codec_name: string; width: number; height: number }[];
  format: { duration?: string };
}> {
  const { stdout } = await execFileAsync('ffprobe', [
    '-v',
    'error',
    '-show_streams',
    '-show_format',
    '-of',
    'json',
    file,
  ]);
  return JSON.parse(stdout);
}

/** Raw bytes of one frame as FFmpeg's own filters produce it. */
export async function ffmpegRawFrame(
  file: string,
  frameIndex: number,
  filters: string,
  pixFmt: string,
): Promise<Buffer> {
  const { stdout } = await execFileAsync(
    'ffmpeg',
    [
      '-v',
      'error',
      '-threads',
      '1',
      '-i',
      file,
      '-vf',
      `select=eq(n\\,${frameIndex}),${filters},format=${pixFmt}`,
      '-vsync',
      '0',
      '-frames:v',
      '1',
      '-f',
      'rawvideo',
      '-',
    ],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout;
}

export function tempDir(prefix = 'guardian-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export const isRoot = process.getuid?.() === 0;

/** Runs the `guardian` command as a user would; never throws: the exit code, stdout and stderr are the result. */
export async function guardianCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      [join(projectRoot, 'bin', 'guardian.mjs'), ...args],
      {
        maxBuffer: 16 << 20,
        ...(options.env ? { env: options.env } : {}),
      },
    );
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every 250 ms until it gives a truthy value; a throw counts as "not yet" (e.g. a server starting). */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs: number,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve()
      .then(fn)
      .catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}
