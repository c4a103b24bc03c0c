// Logs: readable lines on a terminal, JSON lines otherwise; credentials are redacted in both.
import assert from 'node:assert/strict';

import { createLogger } from '../../src/shared/log.ts';

function capture(tty: boolean): { text: () => string; log: ReturnType<typeof createLogger> } {
  let text = '';
  const log = createLogger({ destination: { write: (s: string) => void (text += s) }, tty });
  return { text: () => text, log };
}

// Strips ANSI colour codes.
const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

describe('logger output', () => {
  it('a terminal gets readable lines: level, message, fields, no JSON', () => {
    const { log, text } = capture(true);
    log.warn('first run: open http://127.0.0.1:8080/ to set the admin password');
    const out = plain(text());
    assert.match(out, /WARN.*: first run: open http:\/\/127\.0\.0\.1:8080\/ to set the admin password\n$/);
    assert.throws(() => JSON.parse(out));
  });

  it('anything else gets one JSON object per line', () => {
    const { log, text } = capture(false);
    log.info({ camera: 'porch' }, 'camera online');
    const line = JSON.parse(text());
    assert.equal(line.msg, 'camera online');
    assert.equal(line.camera, 'porch');
  });

  it('credentials are redacted in the readable output too', () => {
    for (const tty of [true, false]) {
      const { log, text } = capture(tty);
      log.error(
        {
          url: 'rtsp://admin:s3cret@10.0.0.2/live',
          camera: { password: 'hunter2' },
          err: new Error('rtsp://u:pw@h/x'),
        },
        'cannot open rtsp://admin:s3cret@10.0.0.2/live',
      );
      const out = plain(text());
      assert.match(out, /rtsp:\/\/\*\*\*@10\.0\.0\.2\/live/);
      for (const secret of ['s3cret', 'hunter2', 'u:pw']) assert.ok(!out.includes(secret), `${secret} in ${out}`);
    }
  });
});
