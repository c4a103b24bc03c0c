// Every command checks its option values before any work, and reports every error the same way: one line
// `guardian: … [CODE]` on stderr, exit 2 for bad input, never a stack trace; --json puts one document on stdout.
import assert from 'node:assert/strict';

import { guardianCli, media } from '../helpers.ts';

const cli = (args: string[]) => guardianCli(args);

describe('guardian option values and error output', function () {
  this.timeout(60_000);

  const bad: [string[], string, RegExp][] = [
    [['decode', media.vtest, '--fps', '-3'], '--fps', /from 0 to 240/],
    [['decode', media.vtest, '--size', 'abc'], '--size', /whole number from 16 to 4096/],
    [['decode', media.vtest, '--hwaccel', 'cuda'], '--hwaccel', /auto, vaapi, none/],
    [['probe', media.vtest, '--timeout', 'abc'], '--timeout', /from 1 to 600000 ms/],
    [['detect', media.vtest, '--min-score', '2'], '--min-score', /from 0.05 to 1/],
    [['detect', media.vtest, '--fps', '0'], '--fps', /from 0.1 to 30/],
    [['detect', media.vtest, '--backend', 'tpu'], '--backend', /onnxruntime, openvino/],
    [['discover', '--timeout', '5'], '--timeout', /from 100 to 60000 ms/],
    [['demo', '--port', '70000'], '--port', /from 0 to 65535/],
    [['decode', media.vtest, '--bogus'], '--bogus', /unknown option/],
  ];
  for (const [args, option, range] of bad) {
    const shown = args.filter((a) => a !== media.vtest).join(' ');
    it(`${shown}: exit 2, one line naming ${option} and what it accepts`, async () => {
      const r = await cli(args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0] ?? '', /^guardian: .* \[INVALID_ARGUMENT\]$/);
      assert.ok(lines[0]?.includes(option), r.stderr);
      assert.match(lines[0] ?? '', range);
    });
  }

  it('an error with --json goes to stderr in the usual format; stdout stays empty', async () => {
    const r = await cli(['probe', '/no/such/file.mp4', '--json']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^guardian: .*No such file.* \[NOT_FOUND\]\n$/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('detect --json prints one JSON document with the summary and every frame, and nothing else', async () => {
    const r = await cli(['detect', media.vtest, '--duration', '2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { summary: { frames: number; source: string }; frames: { pts: number }[] };
    assert.equal(doc.summary.frames, 10); // 2 s at the default 5 fps
    assert.equal(doc.frames.length, 10);
    assert.ok(doc.frames.every((f) => f.pts < 2));
    assert.equal(r.stderr, ''); // no progress bar when stderr is not a terminal
  });

  it('detect without --json summarises in words; --jsonl streams a line per frame, then the summary', async () => {
    const text = await cli(['detect', media.vtest, '--duration', '1']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /5 frames analysed .* yolox on onnxruntime/);
    assert.match(text.stdout, /objects tracked: .*person/);
    const lines = await cli(['detect', media.vtest, '--duration', '1', '--jsonl']);
    const parsed = lines.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(parsed.filter((l) => 'frame' in l).length, 5);
    assert.equal(parsed.at(-1).summary.frames, 5);
  });
});
