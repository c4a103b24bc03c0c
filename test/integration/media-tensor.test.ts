// The model tensors must be exactly what FFmpeg's own scale+pad produces, in the layouts the models expect.
import assert from 'node:assert/strict';

import { type Frame, openSource, type SourceOptions, tensorPresets } from '../../bindings/index.ts';
import { ffmpegRawFrame, media } from '../helpers.ts';

const FRAME = 50; // a frame with pedestrians in view

async function frameAt(file: string, options: SourceOptions): Promise<Frame> {
  const src = await openSource(file, { ...options, fps: 0, threads: 1 });
  try {
    for await (const f of src) if (f.index === FRAME) return f;
  } finally {
    await src.close();
  }
  throw new Error('frame not reached');
}

function compare(actual: (i: number) => number, expected: Buffer, count: number) {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const d = Math.abs(actual(i) - (expected[i] ?? 0));
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / count };
}

describe('media core: model tensors', function () {
  this.timeout(60_000);

  it('YOLOX letterbox (BGR, float32 NCHW, pad 114) matches ffmpeg area scale+pad', async () => {
    const S = 416;
    const f = await frameAt(media.vtest, { tensor: tensorPresets.yolox });
    // 768x576 -> 416x312 at the top-left, like the YOLOX reference preprocessing.
    assert.deepEqual([f.tensor?.contentWidth, f.tensor?.contentHeight], [416, 312]);
    // Reference in planar G,B,R (full chroma per pixel, as the addon computes float tensors).
    const ref = await ffmpegRawFrame(
      media.vtest,
      FRAME,
      `scale=416:312:flags=area,format=gbrp,pad=${S}:${S}:0:0:color=0x727272`,
      'gbrp',
    );
    assert.equal(ref.length, S * S * 3);
    const t = f.tensor?.data as Float32Array;
    const plane = S * S;
    const refPlaneOf = [1, 0, 2]; // tensor channel (B,G,R) -> ffmpeg gbrp plane (G,B,R)
    const { max, mean } = compare(
      (i) => {
        const c = Math.floor(i / plane);
        const refIndex = (refPlaneOf[c] ?? 0) * plane + (i % plane);
        return (t[i] ?? -1) - (ref[refIndex] ?? 0) + (ref[i] ?? 0);
      },
      ref,
      ref.length,
    );
    assert.ok(max <= 2 && mean < 0.2, `max ${max}, mean ${mean}`);
    // The padding is exactly 114 below the image.
    assert.equal(t[0 * plane + 400 * S + 10], 114);
    assert.equal(t[2 * plane + 415 * S + 415], 114);
  });

  it('cropTensor says where its crop really starts: the region it reports is the picture it holds', async () => {
    // FFmpeg moves a crop's left edge down to keep rows aligned (to 64 px here): the addon reported the x asked for,
    // so boxes decoded from crops landed up to 63 px right of the object (the second look found no person on 2 in 3).
    const src = await openSource(media.vtest, { fps: 0, threads: 1, tensor: tensorPresets.yolox, snapshotFrames: 32 });
    try {
      for await (const f of src) {
        if (f.index < FRAME) continue;
        const crop = await src.cropTensor(f.index, { x: 98, y: 45, width: 416, height: 416 });
        const w = Math.round(crop.contentWidth / crop.scaleX);
        const h = Math.round(crop.contentHeight / crop.scaleY);
        assert.ok(crop.offsetX <= 98 && crop.offsetX + w >= 98 + 416, `covers what was asked: ${crop.offsetX}+${w}`);
        const t = crop.data as Float32Array;
        const { size: S, contentWidth: cw, contentHeight: ch } = crop;
        // The green channel (tensor channel 1, ffmpeg gbrp plane 0) against FFmpeg's crop at x + dx.
        const differenceAt = async (dx: number) => {
          const ref = await ffmpegRawFrame(
            media.vtest,
            f.index,
            `crop=${w}:${h}:${crop.offsetX + dx}:${crop.offsetY},scale=${cw}:${ch}:flags=area`,
            'gbrp',
          );
          return compare((i) => t[S * S + Math.floor(i / cw) * S + (i % cw)] ?? -1, ref.subarray(0, cw * ch), cw * ch)
            .mean;
        };
        const at = await differenceAt(0);
        const beside = await Promise.all([-4, -2, 2, 4].map(differenceAt));
        assert.ok(at < 6, `the crop matches the region it reports (mean difference ${at.toFixed(1)})`);
        assert.ok(
          beside.every((d) => d > at),
          `the reported x fits best: ${at.toFixed(1)} there, ${beside.map((d) => d.toFixed(1))} 2 and 4 px beside`,
        );
        return;
      }
    } finally {
      await src.close();
    }
  });

  it('NanoDet stretch with per-channel mean/std matches ffmpeg scale, normalised', async () => {
    const S = 320;
    const f = await frameAt(media.vtest, { tensor: tensorPresets.nanodet });
    const ref = await ffmpegRawFrame(media.vtest, FRAME, `scale=${S}:${S}:flags=area`, 'gbrp');
    const t = f.tensor?.data as Float32Array;
    const { mean: meanC, std } = tensorPresets.nanodet;
    const plane = S * S;
    const refPlaneOf = [1, 0, 2];
    const { max } = compare(
      (i) => {
        const c = Math.floor(i / plane);
        // undo the normalisation to compare in pixel units
        const pixel = (t[i] ?? 0) * (std[c] ?? 1) + (meanC[c] ?? 0);
        return pixel - (ref[(refPlaneOf[c] ?? 0) * plane + (i % plane)] ?? 0) + (ref[i] ?? 0);
      },
      ref,
      ref.length,
    );
    assert.ok(max <= 2.01, `max ${max}`);
  });

  it('uint8 NHWC RGB letterbox matches ffmpeg, and 1080p is letterboxed to 416x234', async () => {
    const S = 416;
    const f = await frameAt(media.vtest1080, {
      tensor: { size: S, layout: 'nhwc-uint8', channels: 'rgb', pad: 0 },
    });
    assert.deepEqual([f.tensor?.contentWidth, f.tensor?.contentHeight], [416, 234]);
    assert.ok(f.tensor?.data instanceof Uint8Array);
    const ref = await ffmpegRawFrame(
      media.vtest1080,
      FRAME,
      `scale=416:234:flags=area,format=rgb24,pad=${S}:${S}:0:0:color=black`,
      'rgb24',
    );
    const t = f.tensor?.data as Uint8Array;
    const { max, mean } = compare((i) => t[i] ?? -1, ref, ref.length);
    // 1080p is first box-averaged down to 480x270 (2x2, twice: much cheaper scaling), so it differs from one-step
    // area scaling at sharp edges (max), while the picture as a whole agrees (mean).
    assert.ok(max <= 96 && mean < 1.5, `max ${max}, mean ${mean}`);
    assert.ok(Math.abs((f.tensor?.scaleX ?? 0) - 416 / 1920) < 1e-9);
  });

  it('motion plane is the luma of the frame at the configured width', async () => {
    const f = await frameAt(media.vtest, { motionWidth: 160 });
    const ref = await ffmpegRawFrame(media.vtest, FRAME, 'scale=160:120:flags=area', 'gray');
    const m = f.motion?.data as Uint8Array;
    const { mean } = compare((i) => m[i] ?? -1, ref, ref.length);
    // Box-averaged twice before the area scaling: within a few grey levels (motion thresholds are ~30).
    assert.ok(mean < 3, `mean abs difference ${mean}`);
  });
});
