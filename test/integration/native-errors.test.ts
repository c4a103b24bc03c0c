// The native/TypeScript boundary: the addon's errors are GuardianErrors (the class bindings hands it at load) with
// codes from the one list, and the addon takes only complete options (no defaults of its own), naming any field
// that is missing.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ERROR_CODES, GuardianError, isErrorCode } from '../../bindings/errors.ts';
import { MediaError, openSource, probe } from '../../bindings/index.ts';
import { loadAddon } from '../../bindings/native.ts';
import { motionDefaults, validateSourceOptions } from '../../bindings/options.ts';
import { GuardianError as SharedGuardianError } from '../../src/shared/errors.ts';
import { media } from '../helpers.ts';

const nativeDir = join(import.meta.dirname, '..', '..', 'native');

/** A GuardianError with this code, made by the addon or by bindings. */
function guardianError(code: string, mustMention?: string) {
  return (e: unknown) => {
    assert.ok(e instanceof GuardianError, `expected a GuardianError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (mustMention) assert.ok(e.message.includes(mustMention), `"${e.message}" should mention ${mustMention}`);
    return true;
  };
}

describe('native errors are GuardianErrors', function () {
  this.timeout(60_000);

  it('a missing file opened through openSource is a GuardianError with code NOT_FOUND', async () => {
    await assert.rejects(openSource('/nonexistent/guardian.mp4'), (e: unknown) => {
      guardianError('NOT_FOUND', '/nonexistent/guardian.mp4')(e);
      // One class: the app's GuardianError, and MediaError for older callers, are the same.
      assert.ok(e instanceof SharedGuardianError);
      assert.ok(e instanceof MediaError);
      assert.equal((e as Error).name, 'GuardianError');
      // The stack is the caller's, not an empty one from the native callback.
      assert.match((e as Error).stack ?? '', /native-errors\.test\.ts/);
      return true;
    });
    await assert.rejects(probe('/nonexistent/guardian.mp4'), guardianError('NOT_FOUND'));
  });

  it('the addon itself constructs them (no wrapping in TypeScript)', async () => {
    const addon = loadAddon();
    const v = validateSourceOptions('/nonexistent/raw.mp4');
    await assert.rejects(
      addon.probe({
        url: v.url,
        label: v.label,
        transport: v.transport,
        connectTimeoutMs: v.connectTimeoutMs,
        readTimeoutMs: v.readTimeoutMs,
        protocolWhitelist: v.protocolWhitelist,
        formatWhitelist: v.formatWhitelist,
      }),
      guardianError('NOT_FOUND'),
    );
    const handle = new addon.NativeSource(v);
    await assert.rejects(handle.open(), guardianError('NOT_FOUND'));
    await assert.rejects(handle.open(), guardianError('INVALID_STATE', 'open() may be called once'));
    await handle.close();
    await assert.rejects(
      addon.exportClip({ inputs: ['/nonexistent/a.mp4'], start: 0, end: 1, output: '/nonexistent/out.mp4' }),
      guardianError('CLIP_FAILED'),
    );
    // Thrown synchronously too: a plane smaller than it says, sent straight to the addon.
    const motion = new addon.MotionDetector(motionDefaults);
    assert.throws(() => motion.detect(new Uint8Array(4), 4, 4), guardianError('INVALID_ARGUMENT'));
  });

  it('every code the native sources can produce is on the one list', () => {
    const found = new Set<string>();
    for (const file of readdirSync(nativeDir).filter((f) => f.endsWith('.cc'))) {
      const text = readFileSync(join(nativeDir, file), 'utf8');
      for (const m of text.matchAll(/"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{4,})"/g))
        if (m[1] && m[1] !== 'GUARDIAN_AV_LOG') found.add(m[1]);
    }
    assert.ok(found.has('NOT_FOUND') && found.has('CORRUPT_DATA') && found.has('DISK_FULL'), [...found].join());
    for (const code of found) assert.ok(isErrorCode(code), `${code} (native) is not in ERROR_CODES`);
    assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length, 'no code listed twice');
  });
});

describe('the addon requires complete options', () => {
  const optional = new Set(['vaapiDevice', 'videoSize', 'frameRate', 'inputFormat', 'tensor', 'record', 'onRecord']);

  it('NativeSource names each missing field', () => {
    const addon = loadAddon();
    const full = validateSourceOptions(media.vtest, {
      tensor: { size: 64 },
      record: { dir: '/tmp/guardian-never-written', camera: 'cam' },
    });
    const keys = Object.keys(full).filter((k) => !optional.has(k));
    assert.ok(keys.length >= 15, keys.join());
    for (const key of keys) {
      const partial: Record<string, unknown> = { ...full };
      delete partial[key];
      assert.throws(() => new addon.NativeSource(partial as never), guardianError('INVALID_ARGUMENT', key), key);
    }
    for (const [object, fields] of [
      ['tensor', ['size', 'resize', 'pad', 'channels', 'layout', 'mean', 'std']],
      ['record', ['dir', 'camera', 'segmentSeconds']],
    ] as const)
      for (const key of fields) {
        const inner: Record<string, unknown> = { ...(full[object] as object) };
        delete inner[key];
        assert.throws(
          () => new addon.NativeSource({ ...full, [object]: inner }),
          guardianError('INVALID_ARGUMENT', `${object}.${key}`),
          `${object}.${key}`,
        );
      }
    assert.throws(
      () => new addon.NativeSource({ ...full, tensor: { ...full.tensor, mean: [0, 0] } } as never),
      guardianError('INVALID_ARGUMENT', 'tensor.mean'),
    );
    assert.throws(() => new addon.NativeSource(undefined as never), guardianError('INVALID_ARGUMENT'));
  });

  it('probe, MotionDetector, exportClip and the positional arguments name what is missing', async () => {
    const addon = loadAddon();
    const v = validateSourceOptions(media.vtest);
    const probeOptions = {
      url: v.url,
      label: v.label,
      transport: v.transport,
      connectTimeoutMs: v.connectTimeoutMs,
      readTimeoutMs: v.readTimeoutMs,
      protocolWhitelist: v.protocolWhitelist,
      formatWhitelist: v.formatWhitelist,
    };
    for (const key of Object.keys(probeOptions)) {
      const partial: Record<string, unknown> = { ...probeOptions };
      delete partial[key];
      assert.throws(() => addon.probe(partial as never), guardianError('INVALID_ARGUMENT', key), key);
    }
    for (const key of Object.keys(motionDefaults)) {
      const partial: Record<string, unknown> = { ...motionDefaults };
      delete partial[key];
      assert.throws(() => new addon.MotionDetector(partial as never), guardianError('INVALID_ARGUMENT', key), key);
    }
    const clip = { inputs: ['/a.mp4'], start: 0, end: 1, output: '/b.mp4' };
    for (const key of Object.keys(clip)) {
      const partial: Record<string, unknown> = { ...clip };
      delete partial[key];
      assert.throws(() => addon.exportClip(partial as never), guardianError('INVALID_ARGUMENT', key), key);
    }
    const handle = new addon.NativeSource(v);
    try {
      assert.throws(() => handle.snapshot('1' as never, 0, 85), guardianError('INVALID_ARGUMENT', 'index'));
      assert.throws(
        () => handle.cropTensor(0, 0, 0, undefined as never, 8),
        guardianError('INVALID_ARGUMENT', 'width'),
      );
    } finally {
      await handle.close();
    }
  });

  it('cropTensor refuses a bad region in TypeScript, naming the field, before the addon', async () => {
    const src = await openSource(media.vtest, { tensor: { size: 64 }, fps: 5 });
    try {
      const frame = await src.read();
      assert.ok(frame);
      await assert.rejects(
        src.cropTensor(frame.index, { x: Number.NaN, y: 0, width: 32, height: 32 }),
        guardianError('INVALID_ARGUMENT', 'region.x'),
      );
      await assert.rejects(
        src.cropTensor(frame.index, { x: 0, y: 0, width: 32, height: -4 }),
        guardianError('INVALID_ARGUMENT', 'region.height'),
      );
      // A frame stays in the source's ring only for the next few decodes: on a loaded box the one read above may have
      // left it already, so a fresh frame is cropped at once (NO_FRAME for an evicted frame is tested below).
      let crop: Awaited<ReturnType<typeof src.cropTensor>> | undefined;
      for (let i = 0; i < 5 && !crop; i++) {
        const fresh = await src.read();
        assert.ok(fresh);
        crop = await src.cropTensor(fresh.index, { x: 10, y: 10, width: 100, height: 100 }).catch((err) => {
          if ((err as { code?: string }).code !== 'NO_FRAME') throw err;
          return undefined;
        });
      }
      assert.ok(crop, 'a fresh frame was cropped');
      assert.equal(crop.size, 64);
      // Where the crop really starts: FFmpeg may move the left edge down to keep rows aligned, never past x.
      assert.ok(crop.offsetX <= 10 && crop.offsetX % 2 === 0, `offsetX ${crop.offsetX}`);
      assert.equal(crop.offsetY, 10);
      await assert.rejects(
        src.cropTensor(frame.index + 1000, { x: 0, y: 0, width: 8, height: 8 }),
        guardianError('NO_FRAME'),
      );
    } finally {
      await src.close();
    }
  });
});
