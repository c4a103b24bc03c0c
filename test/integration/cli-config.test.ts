// `guardian config example | check` and the configuration errors of `guardian edge`, as a user meets them.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { guardianCli, tempDir } from '../helpers.ts';

const cli = (args: string[]) => guardianCli(args);

describe('guardian config', function () {
  this.timeout(30_000);
  const dir = tempDir();
  after(() => dir.remove());

  it('an empty config: exit 2, dataDir is required, with what it is and an example', async () => {
    const file = join(dir.path, 'empty.yaml');
    writeFileSync(file, '');
    for (const args of [
      ['config', 'check', '--config', file],
      ['edge', '--config', file],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(
        r.stderr.split('\n')[0],
        `guardian: the configuration ${file} has 1 problem [INVALID_ARGUMENT]`,
        r.stderr,
      );
      assert.match(r.stderr, /- dataDir: required — .*database.*e\.g\. dataDir: \/var\/lib\/guardian/);
      assert.doesNotMatch(r.stderr, /Invalid input|\n\s+at /);
    }
  });

  it('cameras in the YAML: says they are added in the web UI or with POST /api/cameras', async () => {
    const file = join(dir.path, 'cameras.yaml');
    writeFileSync(file, 'dataDir: /srv/guardian\ncameras:\n  - name: porch\n    url: rtsp://cam/stream\n');
    const r = await cli(['config', 'check', '--config', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /- cameras: .*web UI \(Cameras page\) or with POST \/api\/cameras, not in the config file/);
  });

  it('config example passes config check; --json prints the configuration the edge would run', async () => {
    const example = await cli(['config', 'example']);
    assert.equal(example.code, 0);
    const file = join(dir.path, 'example.yaml');
    writeFileSync(file, example.stdout);
    const text = await cli(['config', 'check', '--config', file]);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, `${file}: valid\n`);
    const json = await cli(['config', 'check', '--config', file, '--json']);
    const config = JSON.parse(json.stdout);
    assert.equal(config.dataDir, '/var/lib/guardian');
    assert.equal(config.http.port, 8080);
  });
});
