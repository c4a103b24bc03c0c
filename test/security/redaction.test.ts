// Issue #20 item 9: credentials leaked through redaction when a password held "@", "#" or "?", and the logger
// censored only some field names ("pass", "secret" and nested "*.password" got through). Each case replays what
// leaked before: the logger's output, JSON and readable, must not hold the secret anywhere.
import assert from 'node:assert/strict';

import { createLogger } from '../../src/shared/log.ts';
import { addSecret, redactUrl } from '../../src/shared/redact.ts';

function logged(fn: (log: ReturnType<typeof createLogger>) => void): string[] {
  return [true, false].map((tty) => {
    let text = '';
    fn(createLogger({ destination: { write: (s: string) => void (text += s) }, tty, level: 'debug' }));
    return text.replace(/\u001b\[[0-9;]*m/g, '');
  });
}

const HOSTILE = ['p@ss@word1', 'pa#ss?wo/rd', 'x?y=1&z#2@', 'q"uote\'d@pw', 'sp ace@pw'];

describe('redaction of hostile credentials (#20 item 9)', () => {
  it('a raw password with @ # ? or / is never left in a URL', () => {
    for (const pw of HOSTILE.filter((p) => !/[\s"']/.test(p))) {
      const text = `cannot open rtsp://admin:${pw}@10.0.0.2:554/live?channel=1 (timeout)`;
      const out = redactUrl(text);
      assert.ok(!out.includes(pw), `${pw} in ${out}`);
      for (const part of pw.split(/[@#?/]/).filter((p) => p.length >= 2))
        assert.ok(!out.includes(`${part}@`) && !out.includes(`:${part}`), `"${part}" of ${pw} in ${out}`);
      assert.match(out, /rtsp:\/\/\*\*\*@10\.0\.0\.2:554\/live\?channel=1 \(timeout\)/);
    }
  });

  it('a registered secret is censored wherever it appears, raw or percent-encoded', () => {
    const pw = 'Tr0ub4dor&3@#';
    addSecret(pw);
    const out = redactUrl(`auth failed for user admin with ${pw}; url rtsp://admin:${encodeURIComponent(pw)}@h/`);
    assert.ok(!out.includes(pw) && !out.includes(encodeURIComponent(pw)), out);
    assert.ok(!out.includes('Tr0ub4dor'), out);
  });

  it('fields named like secrets are censored at any depth, in both formats', () => {
    const outs = logged((log) =>
      log.warn(
        {
          pass: 'secret-pass-1',
          secret: 'secret-value-2',
          camera: { password: 'secret-pw-3', passwd: 'secret-pw-4', nested: { deeper: { pwd: 'secret-pw-5' } } },
          s3: { secretAccessKey: 'secret-s3-6', accessKeyId: 'AKIAPUBLIC' },
          headers: { authorization: 'Bearer secret-token-7', cookie: 'guardian_session=secret-cookie-8' },
          apiToken: 'secret-token-9',
          list: [{ password: 'secret-pw-10' }],
          a: { b: { c: { d: { e: { f: { g: { h: { i: { j: { password: 'secret-pw-11' } } } } } } } } } },
        },
        'settings',
      ),
    );
    for (const out of outs) {
      assert.ok(!/secret-/.test(out), out);
      assert.ok(out.includes('AKIAPUBLIC'), 'a non-secret field is kept');
    }
  });

  it('a URL with a hostile password inside an error and a message is redacted', () => {
    const pw = 'p@ss#w?rd';
    const outs = logged((log) =>
      log.error({ err: new Error(`open rtsp://u:${pw}@cam/x failed`) }, `retrying rtsp://u:${pw}@cam/x`),
    );
    for (const out of outs) {
      assert.ok(!out.includes('ss#w') && !out.includes('p@ss'), out);
      assert.match(out, /rtsp:\/\/\*\*\*@cam\/x/);
    }
  });
});
