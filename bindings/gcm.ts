// The archive format's segment cipher in the addon (native/gcm.h), or why it is not available. The archive code
// (src/shared/archive/segment.ts) uses node:crypto when it is not: the owner's server may run without the native
// build (or without the FFmpeg libraries the addon needs to load), and an addon built before native/gcm.cc, or
// without Node's OpenSSL headers, has no GcmSegments.
import { GuardianError } from './errors.ts';
import { loadAddon, type NativeAddon } from './native.ts';
import type { NativeGcmInfo, NativeGcmSegments } from './types.ts';

export type { NativeGcmInfo, NativeGcmSegments } from './types.ts';

export interface NativeGcm {
  /** A segment cipher for one object: a 32-byte key (copied into the cipher contexts only: wipe it after), the
   * 7-byte nonce prefix, the segments' associated data and their plaintext size. */
  create(key: Buffer, noncePrefix: Buffer, aad: Buffer, segmentSize: number): NativeGcmSegments;
  info: NativeGcmInfo;
}

export type NativeGcmAvailability = { gcm: NativeGcm; reason: null } | { gcm: null; reason: string };

function check(name: string, value: unknown, size: number): void {
  if (!Buffer.isBuffer(value) || value.length !== size)
    throw new GuardianError('INVALID_ARGUMENT', `Expected a ${size}-byte Buffer for ${name}`);
}

/** The addon's segment cipher from `load` (the addon loader by default), or the reason it cannot be used. */
export function probeNativeGcm(load: () => NativeAddon = loadAddon): NativeGcmAvailability {
  let addon: NativeAddon;
  try {
    addon = load();
  } catch (err) {
    return { gcm: null, reason: (err as Error).message.split('\n')[0] as string };
  }
  const Ctor = addon.GcmSegments;
  if (typeof Ctor !== 'function' || typeof addon.gcmInfo !== 'function')
    return { gcm: null, reason: 'the native addon was built without GcmSegments (native/gcm.cc)' };
  const info = addon.gcmInfo();
  // The addon must run on Node's own OpenSSL; a build bound to another copy is not used.
  if (!info.node) return { gcm: null, reason: `the native addon's OpenSSL is not Node's (${info.library})` };
  return {
    reason: null,
    gcm: {
      info,
      create(key, noncePrefix, aad, segmentSize) {
        check('key', key, 32);
        check('noncePrefix', noncePrefix, 7);
        if (!Buffer.isBuffer(aad)) throw new GuardianError('INVALID_ARGUMENT', 'Expected a Buffer for aad');
        if (!Number.isInteger(segmentSize) || segmentSize < 1)
          throw new GuardianError('INVALID_ARGUMENT', `Expected a positive integer segmentSize, not ${segmentSize}`);
        return new Ctor(key, noncePrefix, aad, segmentSize);
      },
    },
  };
}

let cached: NativeGcmAvailability | undefined;

/** probeNativeGcm() of the process's addon, once (a failed load is not retried for every archive). */
export function nativeGcm(): NativeGcmAvailability {
  cached ??= probeNativeGcm();
  return cached;
}
