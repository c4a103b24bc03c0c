// Configuration errors say what is wrong, what the key is for and how to fix it, not what the validator saw.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { loadConfig, validateConfig } from '../../src/shared/config.ts';
import type { FieldIssue } from '../../src/shared/errors.ts';
import { ValidationError } from '../../src/shared/errors.ts';
import { tempDir } from '../helpers.ts';

function issues(value: unknown): FieldIssue[] {
  try {
    validateConfig(value);
  } catch (e) {
    if (e instanceof ValidationError) return e.issues;
    throw e;
  }
  assert.fail('should not validate');
}

describe('configuration messages', () => {
  it('a missing dataDir says what it is and gives an example', () => {
    const [i, ...rest] = issues({});
    assert.equal(rest.length, 0);
    assert.equal(i?.field, 'dataDir');
    assert.match(i?.message ?? '', /^required — .*folder where Guardian keeps its database/);
    assert.match(i?.message ?? '', /e\.g\. dataDir: \/var\/lib\/guardian/);
    assert.doesNotMatch(i?.message ?? '', /Invalid input|received undefined/);
  });

  it('cameras written into the file point to the web UI and the API', () => {
    for (const cameras of [
      [{ name: 'Porch', url: 'rtsp://cam/stream' }], // a list of cameras
      { porch: { url: 'rtsp://cam/stream', name: 'Porch' } }, // camera fields under an id
      { 'Front Door': { recordMode: 'events' } }, // a name instead of an id
    ]) {
      const found = issues({ dataDir: '/srv/g', cameras });
      assert.equal(found.length, 1, JSON.stringify(found));
      assert.match(found[0]?.field ?? '', /^cameras/);
      assert.match(found[0]?.message ?? '', /added in the web UI \(Cameras page\) or with POST \/api\/cameras/);
      assert.match(found[0]?.message ?? '', /zones, motionMasks, objectMasks, requiredZones, recordMode/);
    }
  });

  it('bad values say the accepted range or choices and what the key is for, never the value itself', () => {
    const found = issues({
      dataDir: '/srv/g',
      http: { port: 99999 },
      detection: { backend: 'tpu', threads: 1.5 },
      api: { token: 's3cret-token-value' },
    });
    const by = Object.fromEntries(found.map((i) => [i.field, i.message]));
    assert.match(by['http.port'] ?? '', /^must be from 0 to 65535 — TCP port of the web UI and API/);
    assert.match(by['detection.backend'] ?? '', /^must be one of onnxruntime, openvino/);
    assert.match(by['detection.threads'] ?? '', /^must be a whole number/);
    assert.match(
      by['(root)'] ?? '',
      /^unknown key\(s\): api; the keys here are dataDir, http, .*guardian config example/,
    );
    assert.ok(!JSON.stringify(found).includes('s3cret'));
  });

  it('a file that cannot be read or parsed is named with the reason, on one line', () => {
    const dir = tempDir();
    try {
      assert.throws(
        () => loadConfig(join(dir.path, 'missing.yaml')),
        (e: unknown) => e instanceof ValidationError && /missing\.yaml: no such file$/.test(e.issues[0]?.message ?? ''),
      );
      const broken = join(dir.path, 'broken.yaml');
      writeFileSync(broken, 'dataDir: /a\n  http: [\n');
      assert.throws(
        () => loadConfig(broken),
        (e: unknown) => e instanceof ValidationError && e.issues[0]?.field === '(file)' && !e.message.includes('\n'),
      );
    } finally {
      dir.remove();
    }
  });
});
