// The `guardian probe` and `guardian decode` commands as a user runs them.
import assert from 'node:assert/strict';

import { guardianCli, media } from '../helpers.ts';

const cli = (args: string[]) => guardianCli(args);

describe('guardian probe / decode', function () {
  this.timeout(60_000);

  it('probe --json prints codec, size, fps and duration', async () => {
    const r = await cli(['probe', media.vtest, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.deepEqual(
      [info.codec, info.width, info.height, info.fps, info.durationSeconds],
      ['h264', 768, 576, 10, 79.5],
    );
  });

  it('decode --json decodes the whole file and reports counters and speed', async () => {
    const r = await cli(['decode', media.city, '--fps', '5', '--size', '320', '--hwaccel', 'auto', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.decodedFrames, 190);
    assert.ok(Math.abs(s.sampledFrames - 38) <= 1, `${s.sampledFrames}`);
    assert.equal(s.droppedFrames, 0);
    assert.ok(s.decodeFps > 0);
    assert.equal(s.hwaccel, 'none');
  });

  it('errors: coded and non-zero exit; bad arguments exit 2', async () => {
    const missing = await cli(['probe', '/no/such/file.mp4', '--json']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\[NOT_FOUND\]/);
    const bad = await cli(['decode', media.city, '--fps', 'lots']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--fps/);
    const option = await cli(['probe', '--', '-i']);
    assert.equal(option.code, 2);
    assert.match(option.stderr, /must not start with "-"/);
  });

  it('--help documents the commands', async () => {
    const r = await cli(['decode', '--help']);
    assert.match(r.stdout, /--hwaccel/);
    assert.match(r.stdout, /--json/);
  });
});
