// Locates and loads the compiled addon: explicit path, then a prebuilt binary, then the local build.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { GuardianError } from './errors.ts';
import type {
  ClipResult,
  CropTensor,
  NativeFrame,
  NativeGcmInfo,
  NativeGcmSegments,
  NativeMotionDetector,
  NativeMotionOptions,
  NativeSourceOptions,
  NativeStats,
  NativeStreamInfo,
  ProbeOptions,
  V4l2DeviceInfo,
} from './types.ts';

export interface NativeSourceHandle {
  open(): Promise<NativeStreamInfo & { hwaccel: string; hwaccelError: string | null }>;
  read(): Promise<NativeFrame | null>;
  snapshot(index: number, width: number, quality: number): Promise<Buffer>;
  cropTensor(index: number, x: number, y: number, w: number, h: number): Promise<CropTensor>;
  stats(): NativeStats;
  setKeyframesOnly(on: boolean): void;
  close(): Promise<void>;
}

export interface NativeAddon {
  /** Called once at load: the addon constructs every error it reports as an instance of this class. */
  setErrorClass(cls: typeof GuardianError): void;
  NativeSource: new (options: NativeSourceOptions) => NativeSourceHandle;
  probe(options: ProbeOptions): Promise<NativeStreamInfo>;
  v4l2Query(path: string): Promise<V4l2DeviceInfo>;
  MotionDetector: new (options: NativeMotionOptions) => NativeMotionDetector;
  exportClip(options: { inputs: string[]; start: number; end: number; output: string }): Promise<ClipResult>;
  versions: Record<string, string>;
  /** Absent from an addon built without Node's OpenSSL headers, or before native/gcm.cc (bindings/gcm.ts). */
  GcmSegments?: new (
    key: Uint8Array,
    noncePrefix: Uint8Array,
    aad: Uint8Array,
    segmentSize: number,
  ) => NativeGcmSegments;
  gcmInfo?: () => NativeGcmInfo;
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function addonCandidates(): string[] {
  const list: string[] = [];
  if (process.env.GUARDIAN_NATIVE) list.push(process.env.GUARDIAN_NATIVE);
  list.push(join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'guardian.node'));
  list.push(join(root, 'build', 'Release', 'guardian.node'));
  return list;
}

let cached: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const path of addonCandidates()) {
    if (!existsSync(path)) {
      tried.push(`${path} (missing)`);
      continue;
    }
    let addon: NativeAddon;
    try {
      addon = require(path) as NativeAddon;
    } catch (err) {
      tried.push(`${path} (${(err as Error).message})`);
      continue;
    }
    if (typeof addon.setErrorClass !== 'function') {
      tried.push(`${path} (built from an older native/)`);
      continue;
    }
    // Native errors are then GuardianErrors too: `instanceof` and `code` hold across the boundary.
    addon.setErrorClass(GuardianError);
    cached = addon;
    return cached;
  }
  throw new GuardianError(
    'ADDON_NOT_BUILT',
    `The guardian native addon is not built. Run \`npm run setup\` (it installs FFmpeg's development packages and builds native/).\nTried:\n  ${tried.join('\n  ')}`,
  );
}
