// `guardian archive …` as the owner meets it: a recovery secret made once, encrypt/decrypt round trips with the
// secret from a file and from stdin, --range, verify, rotate, and the failures (wrong secret, damaged archive, a
// secret file others can read, bad input) each ending with one error line, the right exit status and no output.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ArchiveReader, bufferSource, encryptBuffer, HEADER_SIZE, rewrap } from '../../src/shared/archive/format.ts';
import { projectRoot } from '../../src/shared/paths.ts';
import { guardianCli, tempDir } from '../helpers.ts';

/** Runs `guardian` with `input` on its stdin (guardianCli gives none). */
function cliWithStdin(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(projectRoot, 'bin', 'guardian.mjs'), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('guardian archive', function () {
  this.timeout(120_000);
  const dir = tempDir('guardian-cli-archive-');
  const p = (name: string) => join(dir.path, name);
  const plaintext = randomBytes(3 * 65536 + 4321);
  let secret = '';
  after(() => dir.remove());

  before(() => writeFileSync(p('clip.mp4'), plaintext));

  it('secret -o FILE: shows a recovery secret once, explains it, saves it 0600 and never replaces it', async () => {
    const r = await guardianCli(['archive', 'secret', '-o', p('owner.secret')]);
    assert.equal(r.code, 0, r.stderr);
    const m = /^\s{4}([0-9A-Z]{5}(?:-[0-9A-Z]{5}){7})$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    secret = m[1] as string;
    assert.match(r.stdout, /without this secret nobody, not you and not Guardian, can ever decrypt that footage again/);
    assert.equal(readFileSync(p('owner.secret'), 'utf8'), `${secret}\n`);
    assert.equal(statSync(p('owner.secret')).mode & 0o777, 0o600);
    const again = await guardianCli(['archive', 'secret', '-o', p('owner.secret')]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^guardian: .*already exists; an archive secret is never overwritten.* \[CONFLICT\]\n$/);
    assert.equal(readFileSync(p('owner.secret'), 'utf8'), `${secret}\n`, 'the first secret is kept');
    const json = await guardianCli(['archive', 'secret', '-o', p('second.secret'), '--json']);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.file, p('second.secret'));
    assert.equal(readFileSync(p('second.secret'), 'utf8'), `${doc.secret}\n`);
  });

  it('encrypt with --secret-file, decrypt with the secret on stdin (typed loosely): the same bytes', async () => {
    const enc = await guardianCli([
      'archive',
      'encrypt',
      p('clip.mp4'),
      '-o',
      p('clip.gdna'),
      '--secret-file',
      p('owner.secret'),
      '--json',
    ]);
    assert.equal(enc.code, 0, enc.stderr);
    const doc = JSON.parse(enc.stdout);
    assert.equal(doc.plaintextBytes, plaintext.length);
    assert.equal(doc.ciphertextBytes, statSync(p('clip.gdna')).size);
    assert.match(doc.sha256, /^[0-9a-f]{64}$/);
    assert.match(doc.keyId, /^[0-9a-f]{16}$/);
    const typed = `${secret.toLowerCase().replace(/-/g, ' ')}\n`;
    const dec = await cliWithStdin(['archive', 'decrypt', p('clip.gdna'), '-o', p('back.mp4')], typed);
    assert.equal(dec.code, 0, dec.stderr);
    assert.match(dec.stdout, new RegExp(`back\\.mp4: ${plaintext.length} bytes decrypted`));
    assert.ok(readFileSync(p('back.mp4')).equals(plaintext));
    // The library reads what the command wrote, with nothing but the secret.
    const r = await ArchiveReader.open(bufferSource(readFileSync(p('clip.gdna'))), secret);
    assert.equal(r.plaintextSize, plaintext.length);
  });

  it('decrypt --range A-B and A- give exactly those plaintext bytes; a range past the end is exit 2 with no output', async () => {
    for (const [range, from, to] of [
      ['0-0', 0, 0],
      ['65535-65536', 65535, 65536],
      ['1000-140000', 1000, 140000],
      [`${plaintext.length - 1}-${plaintext.length - 1}`, plaintext.length - 1, plaintext.length - 1],
      ['131000-', 131000, plaintext.length - 1],
    ] as const) {
      const r = await guardianCli([
        'archive',
        'decrypt',
        p('clip.gdna'),
        '-o',
        p('range.bin'),
        '--range',
        range,
        '--secret-file',
        p('owner.secret'),
      ]);
      assert.equal(r.code, 0, `${range}: ${r.stderr}`);
      assert.ok(readFileSync(p('range.bin')).equals(plaintext.subarray(from, to + 1)), range);
    }
    for (const [range, pattern] of [
      [`0-${plaintext.length}`, /--range: range 0-\d+ is past the end: the plaintext has \d+ bytes/],
      ['9-3', /--range .*Expected A-B/],
      ['a-b', /--range .*Expected A-B/],
    ] as const) {
      const r = await guardianCli([
        'archive',
        'decrypt',
        p('clip.gdna'),
        '-o',
        p('past.bin'),
        '--range',
        range,
        '--secret-file',
        p('owner.secret'),
      ]);
      assert.equal(r.code, 2, `${range}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.match(r.stderr, /\[INVALID_ARGUMENT\]\n$/);
      assert.ok(!existsSync(p('past.bin')));
    }
  });

  it('a failed decrypt exits 1 and leaves no output (nor a temporary file); an existing output is left as it was', async () => {
    const before = readdirSync(dir.path).sort();
    const wrong = await cliWithStdin(
      ['archive', 'decrypt', p('clip.gdna'), '-o', p('never.mp4')],
      'not the owner secret\n',
    );
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^guardian: .*clip\.gdna: wrong archive secret: .* \[UNAUTHORIZED\]\n$/);
    assert.ok(!existsSync(p('never.mp4')));
    // A damaged segment late in the file: earlier segments are authentic, but nothing may be left behind.
    const damaged = readFileSync(p('clip.gdna'));
    const at = HEADER_SIZE + 3 * 65552 + 100;
    damaged[at] = (damaged[at] as number) ^ 1;
    writeFileSync(p('damaged.gdna'), damaged);
    writeFileSync(p('existing.mp4'), 'keep me');
    for (const out of ['never.mp4', 'existing.mp4']) {
      const r = await guardianCli([
        'archive',
        'decrypt',
        p('damaged.gdna'),
        '-o',
        p(out),
        '--secret-file',
        p('owner.secret'),
      ]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /damaged\.gdna: the last segment \(3\) of the archive failed authentication.* \[CORRUPT_DATA\]\n$/,
      );
    }
    assert.ok(!existsSync(p('never.mp4')));
    assert.equal(readFileSync(p('existing.mp4'), 'utf8'), 'keep me');
    const mid = readFileSync(p('clip.gdna'));
    mid[HEADER_SIZE + 65552 + 7] = (mid[HEADER_SIZE + 65552 + 7] as number) ^ 0x80;
    writeFileSync(p('damaged.gdna'), mid);
    const r = await guardianCli([
      'archive',
      'decrypt',
      p('damaged.gdna'),
      '-o',
      p('never.mp4'),
      '--secret-file',
      p('owner.secret'),
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /segment 1 of 4 failed authentication.* \[CORRUPT_DATA\]/);
    assert.ok(!existsSync(p('never.mp4')));
    assert.deepEqual(readdirSync(dir.path).sort(), [...before, 'damaged.gdna', 'existing.mp4'].sort());
  });

  it('verify: ok for a sound archive (--json), CORRUPT_DATA for a truncated one', async () => {
    const ok = await guardianCli(['archive', 'verify', p('clip.gdna'), '--secret-file', p('owner.secret'), '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const doc = JSON.parse(ok.stdout);
    assert.equal(doc.ok, true);
    assert.equal(doc.plaintextBytes, plaintext.length);
    assert.equal(doc.segments, 4);
    assert.equal(doc.kdf.memoryKiB, 65536);
    writeFileSync(p('cut.gdna'), readFileSync(p('clip.gdna')).subarray(0, HEADER_SIZE + 2 * 65552));
    const cut = await guardianCli(['archive', 'verify', p('cut.gdna'), '--secret-file', p('owner.secret')]);
    assert.equal(cut.code, 1);
    assert.match(
      cut.stderr,
      /cut\.gdna: the archive is truncated: it ends after segment 1, which is not its last segment \[CORRUPT_DATA\]/,
    );
  });

  it('rotate: headers re-wrapped under the new secret, bodies unchanged, old secret refused, a second run changes nothing', async () => {
    const second = await encryptBuffer(randomBytes(1000), secret);
    writeFileSync(p('snap.gdna'), second);
    const bodies = ['clip.gdna', 'snap.gdna'].map((f) => readFileSync(p(f)).subarray(HEADER_SIZE));
    const r = await cliWithStdin(
      ['archive', 'rotate', p('clip.gdna'), p('snap.gdna'), '--new-secret-file', p('second.secret')],
      `${secret}\n`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /clip\.gdna: rotated \(key [0-9a-f]{16} -> [0-9a-f]{16}\)\n.*snap\.gdna: rotated/);
    ['clip.gdna', 'snap.gdna'].forEach((f, i) => {
      assert.ok(
        readFileSync(p(f))
          .subarray(HEADER_SIZE)
          .equals(bodies[i] as Buffer),
        `${f} body unchanged`,
      );
    });
    const old = await guardianCli(['archive', 'verify', p('clip.gdna'), '--secret-file', p('owner.secret')]);
    assert.equal(old.code, 1);
    assert.match(old.stderr, /\[UNAUTHORIZED\]/);
    const now = await guardianCli([
      'archive',
      'decrypt',
      p('clip.gdna'),
      '-o',
      p('rotated.mp4'),
      '--secret-file',
      p('second.secret'),
    ]);
    assert.equal(now.code, 0, now.stderr);
    assert.ok(readFileSync(p('rotated.mp4')).equals(plaintext));
    const again = await guardianCli([
      'archive',
      'rotate',
      p('clip.gdna'),
      '--secret-file',
      p('owner.secret'),
      '--new-secret-file',
      p('second.secret'),
      '--json',
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).files[0].rotated, false);
    // Back again with the library, for the tests after this one.
    await rewrap(p('clip.gdna'), readFileSync(p('second.secret'), 'utf8'), secret);
  });

  it('a secret file that group or others can read is refused (exit 1, says how to fix), and nothing is written', async () => {
    writeFileSync(p('open.secret'), `${secret}\n`);
    chmodSync(p('open.secret'), 0o644);
    const r = await guardianCli([
      'archive',
      'decrypt',
      p('clip.gdna'),
      '-o',
      p('never.mp4'),
      '--secret-file',
      p('open.secret'),
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /open\.secret is accessible by group or others \(mode 0644\); run: chmod 600 .* \[PERMISSION_DENIED\]\n$/,
    );
    assert.ok(!existsSync(p('never.mp4')));
    chmodSync(p('open.secret'), 0o600);
    const ok = await guardianCli(['archive', 'verify', p('clip.gdna'), '--secret-file', p('open.secret')]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('bad input is exit 2 with one line: no secret on stdin, a missing -o, a missing argument, an unknown option', async () => {
    const none = await cliWithStdin(['archive', 'verify', p('clip.gdna')], '');
    assert.equal(none.code, 2);
    assert.equal(
      none.stderr,
      `guardian: ${p('clip.gdna')}: no archive secret: give --secret-file FILE (mode 0600) or pass the secret on stdin [INVALID_ARGUMENT]\n`,
    );
    for (const args of [
      ['archive', 'encrypt', p('clip.mp4'), '--secret-file', p('owner.secret')],
      ['archive', 'decrypt', '-o', p('x')],
      ['archive', 'rotate', p('clip.gdna')],
      ['archive', 'verify', p('clip.gdna'), '--secret', 'on-the-command-line'],
    ]) {
      const r = await guardianCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^guardian: .* \[INVALID_ARGUMENT\]\n$/);
    }
    const missing = await guardianCli(['archive', 'verify', p('nothing.gdna'), '--secret-file', p('owner.secret')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nothing\.gdna: no such file \[NOT_FOUND\]/);
  });
});
