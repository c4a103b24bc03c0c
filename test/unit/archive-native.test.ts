// The archive format's native segment cipher (native/gcm.h, bindings/gcm.ts, src/shared/archive/segment.ts) against
// its node:crypto fallback: the same bytes both ways (the test vectors included), the same errors for damaged
// archives and no plaintext of a segment that failed, key wiping, and the fallback when the addon's cipher is not
// there or not wanted.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import fc from 'fast-check';

import { type NativeGcm, nativeGcm, probeNativeGcm } from '../../bindings/gcm.ts';
import { addonCandidates, type NativeAddon } from '../../bindings/native.ts';
import {
  ArchiveReader,
  bufferSource,
  createEncryptor,
  deriveKek,
  encryptBuffer,
  HEADER_SIZE,
  type Kek,
  SEGMENT_SIZE,
  SEGMENT_STORED_SIZE,
  TAG_SIZE,
} from '../../src/shared/archive/format.ts';
import { type GcmEngine, gcmEngine, segmentCipher } from '../../src/shared/archive/segment.ts';
import { GuardianError } from '../../src/shared/errors.ts';
import { projectRoot } from '../../src/shared/paths.ts';
import { execFileAsync, tempDir } from '../helpers.ts';

const LIGHT = { memoryKiB: 1024, iterations: 1, parallelism: 1, salt: Buffer.alloc(16, 7) };
const SECRET = 'correct horse battery staple';
const ENGINES = ['native', 'node'] as const;
/** The suite run with GUARDIAN_ARCHIVE_GCM=node (as the other archive tests may be): `auto` is node:crypto then. */
const forcedNode = process.env.GUARDIAN_ARCHIVE_GCM === 'node';

/** Deterministic randomness for the writer: fresh buffers (it wipes the data key it is given). */
const fixedRandom = (seed: string) => {
  let i = 0;
  return (n: number) => Buffer.from(createHash('sha256').update(`${seed}/${i++}`).digest().subarray(0, n));
};

const patterned = (n: number) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 16)) & 0xff;
  return b;
};

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The node:crypto reference for one segment, written from docs/archive-format.md. */
function referenceSegment(key: Buffer, prefix: Buffer, aad: Buffer, index: number, last: boolean, plain: Buffer) {
  const nonce = Buffer.concat([prefix, Buffer.alloc(5)]);
  nonce.writeUInt32BE(index, 7);
  nonce[11] = last ? 1 : 0;
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aad);
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

describe('archive format: native segment cipher', function () {
  this.timeout(120_000);
  let kek: Kek;
  let gcm: NativeGcm;

  before(async () => {
    const { gcm: g, reason } = nativeGcm();
    assert.ok(g, `the addon's segment cipher is not available here: ${reason}`);
    gcm = g;
    kek = await deriveKek(SECRET, LIGHT);
  });

  const seal = (pt: Buffer, engine: GcmEngine, seed = 'object') =>
    encryptBuffer(pt, kek, { kdf: LIGHT, random: fixedRandom(seed), gcm: engine });
  const open = (ct: Buffer, engine: GcmEngine, batchSegments?: number) =>
    ArchiveReader.open(bufferSource(ct), kek, { gcm: engine, batchSegments });

  describe('the addon', () => {
    it("runs on Node's own OpenSSL, not a second libcrypto (none linked, even with the system's loaded)", () => {
      assert.equal(gcm.info.node, true, `EVP functions bound to ${gcm.info.library}`);
      assert.match(gcm.info.openssl, new RegExp(`^OpenSSL ${process.versions.openssl.replace(/\./g, '\\.')}\\b`));
      if (!forcedNode) assert.deepEqual(gcmEngine(), { engine: 'native', reason: null });
      const addon = addonCandidates().find((p) => existsSync(p)) as string;
      let dynamic = '';
      try {
        dynamic = execFileSync('readelf', ['-d', addon], { encoding: 'utf8' });
      } catch {
        return; // no binutils: the binding check above still holds
      }
      const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
      assert.ok(needed.length > 0, 'readelf listed no dependencies');
      // (FFmpeg's own dependencies may still bring the system's libcrypto into the process: the binding above is
      // what counts, and it is Node's.)
      assert.ok(!needed.some((l) => /libcrypto|libssl/.test(l as string)), `the addon links ${needed.join(', ')}`);
    });

    it('seals and opens runs of segments exactly as node:crypto does one by one, up to counter 2^32 - 1', () => {
      const key = randomBytes(32);
      const prefix = randomBytes(7);
      const aad = randomBytes(35);
      const g = gcm.create(Buffer.from(key), prefix, aad, SEGMENT_SIZE);
      for (const [first, len] of [
        [0, 0],
        [0, 1],
        [3, SEGMENT_SIZE],
        [9, SEGMENT_SIZE + 1],
        [0, 5 * SEGMENT_SIZE - 7],
        [2 ** 32 - 3, 3 * SEGMENT_SIZE],
      ] as const) {
        const plain = randomBytes(len);
        const n = Math.max(1, Math.ceil(len / SEGMENT_SIZE));
        const ref = Buffer.concat(
          Array.from({ length: n }, (_, i) =>
            referenceSegment(
              key,
              prefix,
              aad,
              first + i,
              i === n - 1,
              plain.subarray(i * SEGMENT_SIZE, (i + 1) * SEGMENT_SIZE),
            ),
          ),
        );
        const out = Buffer.alloc(ref.length);
        assert.equal(g.seal(plain, first, true, out), ref.length);
        assert.ok(out.equals(ref), `seal ${first}+${len}`);
        const back = Buffer.alloc(len);
        assert.equal(g.open(ref, first, true, back), -1);
        assert.ok(back.equals(plain), `open ${first}+${len}`);
        // The last flag is part of the nonce: the same run opened as not final fails at its last segment.
        assert.equal(g.open(ref, first, false, Buffer.alloc(len)), n - 1);
      }
    });

    it('a segment that fails authentication is zeroed, named by its position, and nothing after it is written', () => {
      const g = gcm.create(randomBytes(32), randomBytes(7), randomBytes(35), SEGMENT_SIZE);
      const plain = randomBytes(8 * SEGMENT_SIZE);
      const stored = Buffer.alloc(8 * SEGMENT_STORED_SIZE);
      g.seal(plain, 100, false, stored);
      for (const k of [0, 3, 7]) {
        for (const at of [5, SEGMENT_SIZE + 3]) {
          // a ciphertext byte, a tag byte
          const bad = Buffer.from(stored);
          bad[k * SEGMENT_STORED_SIZE + at] = (bad[k * SEGMENT_STORED_SIZE + at] as number) ^ 0x40;
          const out = Buffer.alloc(plain.length, 0xaa);
          assert.equal(g.open(bad, 100, false, out), k);
          assert.ok(out.subarray(0, k * SEGMENT_SIZE).equals(plain.subarray(0, k * SEGMENT_SIZE)), 'before: authentic');
          assert.ok(
            out.subarray(k * SEGMENT_SIZE, (k + 1) * SEGMENT_SIZE).every((b) => b === 0),
            'failed segment zeroed',
          );
          assert.ok(
            out.subarray((k + 1) * SEGMENT_SIZE).every((b) => b === 0xaa),
            'nothing written after',
          );
        }
      }
      // Another first index is another nonce: the first segment fails.
      assert.equal(g.open(stored, 101, false, Buffer.alloc(plain.length)), 0);
    });

    it('checks its arguments: sizes, whole segments, counter range, room, overlap; CLOSED after dispose()', () => {
      assert.throws(() => gcm.create(randomBytes(31), randomBytes(7), Buffer.alloc(0), SEGMENT_SIZE), {
        code: 'INVALID_ARGUMENT',
      });
      assert.throws(() => gcm.create(randomBytes(32), randomBytes(8), Buffer.alloc(0), SEGMENT_SIZE), {
        code: 'INVALID_ARGUMENT',
      });
      const g = gcm.create(randomBytes(32), randomBytes(7), randomBytes(35), SEGMENT_SIZE);
      const bad = (f: () => unknown, message: RegExp) => assert.throws(f, { code: 'INVALID_ARGUMENT', message });
      bad(() => g.seal(Buffer.alloc(100), 0, false, Buffer.alloc(200)), /whole segments/);
      bad(() => g.seal(Buffer.alloc(0), 0, false, Buffer.alloc(200)), /whole segments/);
      bad(() => g.seal(Buffer.alloc(100), 0, true, Buffer.alloc(115)), /too small/);
      bad(() => g.seal(Buffer.alloc(2 * SEGMENT_SIZE), 2 ** 32 - 1, true, Buffer.alloc(3 * SEGMENT_SIZE)), /2\^32/);
      bad(() => g.seal(Buffer.alloc(1), -1, true, Buffer.alloc(17)), /firstIndex/);
      bad(() => g.seal(Buffer.alloc(1), 0.5, true, Buffer.alloc(17)), /firstIndex/);
      bad(() => g.open(Buffer.alloc(15), 0, true, Buffer.alloc(10)), /whole tag/);
      bad(() => g.open(Buffer.alloc(SEGMENT_STORED_SIZE + 3), 0, true, Buffer.alloc(2 * SEGMENT_SIZE)), /whole tag/);
      bad(() => g.open(Buffer.alloc(116), 0, true, Buffer.alloc(99)), /too small/);
      const shared = Buffer.alloc(400);
      bad(() => g.seal(shared.subarray(0, 100), 0, true, shared.subarray(50, 166)), /overlaps/);
      bad(() => g.open(shared.subarray(0, 116), 0, true, shared.subarray(0, 100)), /overlaps/);
      bad(() => g.open('x' as unknown as Buffer, 0, true, Buffer.alloc(1)), /Buffer/);
      g.dispose();
      assert.throws(() => g.open(Buffer.alloc(16), 0, true, Buffer.alloc(0)), { code: 'CLOSED' });
      assert.throws(() => g.seal(Buffer.alloc(0), 0, true, Buffer.alloc(16)), { code: 'CLOSED' });
      g.dispose(); // twice is harmless
    });

    it('keeps the key only in its cipher contexts: the wiped buffers leave every later call working', async () => {
      const key = randomBytes(32);
      const prefix = randomBytes(7);
      const aad = randomBytes(35);
      const given = Buffer.from(key);
      const g = gcm.create(given, prefix, aad, SEGMENT_SIZE);
      given.fill(0);
      const plain = randomBytes(3 * SEGMENT_SIZE + 10);
      const out = Buffer.alloc(plain.length + 4 * TAG_SIZE);
      g.seal(plain, 0, true, out);
      const ref = Buffer.concat(
        [0, 1, 2, 3].map((i) =>
          referenceSegment(key, prefix, aad, i, i === 3, plain.subarray(i * SEGMENT_SIZE, (i + 1) * SEGMENT_SIZE)),
        ),
      );
      assert.ok(out.equals(ref));
      // segmentCipher does not change the data key it derives from; the writer and reader wipe theirs.
      const dataKey = randomBytes(32);
      const copy = Buffer.from(dataKey);
      const c = segmentCipher(dataKey, randomBytes(16), prefix, aad, 'native');
      assert.ok(dataKey.equals(copy));
      assert.equal(c.engine, 'native');
      // The writer's data key (from its random source) is zeroed once the object is set up; it still seals.
      const handed: Buffer[] = [];
      const random = fixedRandom('wipe');
      const e = await createEncryptor(kek, {
        kdf: LIGHT,
        gcm: 'native',
        random: (n) => {
          const b = random(n);
          handed.push(b);
          return b;
        },
      });
      assert.ok(
        (handed[2] as Buffer).every((b) => b === 0),
        'data key wiped',
      );
      const pt = patterned(5 * SEGMENT_SIZE + 3);
      const ct = Buffer.concat([e.header, ...e.update(pt), ...e.final()]);
      assert.ok(ct.equals(await seal(pt, 'node', 'wipe')));
      const r = await open(ct, 'native');
      for (let i = 0; i < 3; i++) assert.ok((await r.read(0, pt.length - 1)).equals(pt));
    });
  });

  describe('native and node:crypto give the same archives', () => {
    it('for sizes around segment boundaries and past one run of the writer, by encryptBuffer', async () => {
      for (const n of [
        0,
        1,
        1000,
        SEGMENT_SIZE - 1,
        SEGMENT_SIZE,
        SEGMENT_SIZE + 1,
        16 * SEGMENT_SIZE,
        40 * SEGMENT_SIZE + 123,
        300 * SEGMENT_SIZE + 1, // more than one run of the writer (256 segments)
      ]) {
        const pt = patterned(n);
        const [a, b] = await Promise.all(ENGINES.map((g) => seal(pt, g, `size ${n}`)));
        assert.ok((a as Buffer).equals(b as Buffer), `${n} bytes`);
        for (const writer of [a, b] as Buffer[])
          for (const g of ENGINES) {
            const r = await open(writer, g);
            const got: Buffer[] = [];
            for await (const part of r.batches()) got.push(...part);
            assert.ok(Buffer.concat(got).equals(pt), `${n} via ${g}`);
          }
      }
    });

    it('for any chunking of update() and any range or batch size when reading (fast-check)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 20 * SEGMENT_SIZE }),
          fc.array(fc.integer({ min: 1, max: 3 * SEGMENT_SIZE }), { minLength: 1, maxLength: 40 }),
          fc.integer({ min: 1, max: 20 }),
          fc.tuple(fc.nat(), fc.nat()),
          async (n, cuts, batch, [x, y]) => {
            const pt = patterned(n);
            const made: Buffer[] = [];
            for (const g of ENGINES) {
              const e = await createEncryptor(kek, { kdf: LIGHT, random: fixedRandom(`chunks ${n}`), gcm: g });
              const parts = [e.header];
              for (let at = 0, k = 0; at < n; k++) {
                const len = Math.min(n - at, cuts[k % cuts.length] as number);
                parts.push(...e.update(pt.subarray(at, at + len)));
                at += len;
              }
              parts.push(...e.final());
              made.push(Buffer.concat(parts));
            }
            assert.ok((made[0] as Buffer).equals(made[1] as Buffer));
            assert.ok((made[0] as Buffer).equals(await seal(pt, 'node', `chunks ${n}`)), 'incremental = at once');
            if (n === 0) return;
            const a = x % n;
            const b = a + (y % (n - a));
            for (const g of ENGINES) {
              const r = await open(made[0] as Buffer, g, batch);
              assert.ok((await r.read(a, b)).equals(pt.subarray(a, b + 1)), `read ${a}-${b} via ${g}`);
              const got: Buffer[] = [];
              for await (const part of r.batches(a, b)) got.push(...part);
              assert.ok(Buffer.concat(got).equals(pt.subarray(a, b + 1)), `batches ${a}-${b} via ${g}`);
            }
          },
        ),
        { numRuns: 30 },
      );
    });

    it('for the test vectors (test/vectors/archive-v1.json), both ways', async () => {
      const script = (await import(new URL('../../scripts/archive-vectors.mjs', import.meta.url).href)) as any;
      const doc = JSON.parse(readFileSync(script.VECTORS_PATH, 'utf8'));
      for (const v of doc.positive) {
        const pt: Buffer = script.plaintextOf(v.plaintext);
        for (const g of ENGINES) {
          const queue = ['objectId', 'noncePrefix', 'dataKey', 'wrapNonce'].map((k) => Buffer.from(v.random[k], 'hex'));
          const ct = await encryptBuffer(pt, v.secret, {
            kdf: { ...v.kdf, salt: Buffer.from(v.kdf.salt, 'hex') },
            random: () => queue.shift() as Buffer,
            gcm: g,
          });
          assert.equal(sha256(ct), v.expected.ciphertextSha256, `${v.name} sealed by ${g}`);
          for (const r of ENGINES) {
            const reader = await ArchiveReader.open(bufferSource(ct), v.secret, { gcm: r });
            const got: Buffer[] = [];
            for await (const part of reader.batches()) got.push(...part);
            assert.ok(Buffer.concat(got).equals(pt), `${v.name} sealed by ${g}, opened by ${r}`);
          }
        }
      }
    });
  });

  describe('damage through the native path', () => {
    const N = 40;
    let pt: Buffer;
    let ct: Buffer;
    before(async () => {
      pt = patterned(N * SEGMENT_SIZE - 1000);
      ct = await seal(pt, 'native', 'damage');
    });

    /** What a full pass through batches() releases before it fails, and the error. */
    async function drain(bytes: Buffer, engine: GcmEngine, batch?: number) {
      const released: Buffer[] = [];
      try {
        const r = await open(bytes, engine, batch);
        for await (const part of r.batches()) released.push(...part);
      } catch (err) {
        assert.ok(err instanceof GuardianError, String(err));
        return { released: Buffer.concat(released), err };
      }
      return { released: Buffer.concat(released), err: null };
    }

    it('a flipped byte in segment k of n: the error names segment k, and no plaintext of it comes out', async () => {
      for (const k of [0, 1, 15, 16, 20, 38]) {
        for (const within of [0, 4321, SEGMENT_SIZE + 7]) {
          const bad = Buffer.from(ct);
          const at = HEADER_SIZE + k * SEGMENT_STORED_SIZE + within;
          bad[at] = (bad[at] as number) ^ 1;
          for (const batch of [1, 16]) {
            const { released, err } = await drain(bad, 'native', batch);
            assert.ok(err, `segment ${k}: accepted`);
            assert.equal(err.code, 'CORRUPT_DATA');
            assert.match(err.message, new RegExp(`^segment ${k} of ${N} failed authentication`));
            assert.ok(released.length <= k * SEGMENT_SIZE, `segment ${k}: released ${released.length} bytes`);
            assert.ok(released.equals(pt.subarray(0, released.length)), 'only authentic plaintext');
            // node:crypto says the same
            const node = await drain(bad, 'node', batch);
            assert.equal(node.err?.message, err.message);
            assert.equal(node.released.length, released.length);
          }
          const r = await open(bad, 'native');
          await assert.rejects(r.read(k * SEGMENT_SIZE, k * SEGMENT_SIZE + 10), {
            message: new RegExp(`^segment ${k} of ${N}`),
          });
          if (k > 0) assert.ok((await r.read(0, k * SEGMENT_SIZE - 1)).equals(pt.subarray(0, k * SEGMENT_SIZE)));
        }
      }
    });

    it('the last segment, truncation, appended bytes and swapped segments read the same as with node:crypto', async () => {
      const last = Buffer.from(ct);
      last[last.length - 3] = (last[last.length - 3] as number) ^ 1;
      const swapped = Buffer.from(ct);
      ct.subarray(HEADER_SIZE + 5 * SEGMENT_STORED_SIZE, HEADER_SIZE + 6 * SEGMENT_STORED_SIZE).copy(
        swapped,
        HEADER_SIZE + 6 * SEGMENT_STORED_SIZE,
      );
      ct.subarray(HEADER_SIZE + 6 * SEGMENT_STORED_SIZE, HEADER_SIZE + 7 * SEGMENT_STORED_SIZE).copy(
        swapped,
        HEADER_SIZE + 5 * SEGMENT_STORED_SIZE,
      );
      const full = await seal(patterned(3 * SEGMENT_SIZE), 'native', 'full');
      const cases: [string, Buffer, RegExp][] = [
        ['last segment', last, /the last segment \(39\)/],
        ['truncated at a boundary', ct.subarray(0, HEADER_SIZE + 20 * SEGMENT_STORED_SIZE), /ends after segment 19/],
        [
          'a segment appended',
          Buffer.concat([full, full.subarray(HEADER_SIZE, HEADER_SIZE + SEGMENT_STORED_SIZE)]),
          /appended/,
        ],
        ['segments 5 and 6 swapped', swapped, /^segment 5 of 40/],
      ];
      for (const [what, bytes, message] of cases) {
        const native = await drain(bytes, 'native');
        const node = await drain(bytes, 'node');
        assert.ok(native.err, `${what}: accepted`);
        assert.match(native.err.message, message, what);
        assert.equal(native.err.message, node.err?.message, what);
        assert.equal(native.released.length, node.released.length, what);
      }
    });
  });

  describe('fallback to node:crypto', () => {
    it('when the addon cannot be loaded, lacks GcmSegments, or is bound to another OpenSSL', () => {
      const missing = probeNativeGcm(() => {
        throw new GuardianError('ADDON_NOT_BUILT', 'The guardian native addon is not built.\nTried: ...');
      });
      assert.deepEqual(missing, { gcm: null, reason: 'The guardian native addon is not built.' });
      const older = probeNativeGcm(() => ({ versions: {} }) as unknown as NativeAddon);
      assert.equal(older.gcm, null);
      assert.match(older.reason as string, /without GcmSegments/);
      const foreign = probeNativeGcm(
        () =>
          ({
            GcmSegments: class {},
            gcmInfo: () => ({ openssl: 'OpenSSL 3.0.2', library: '/lib/libcrypto.so.3', node: false }),
          }) as unknown as NativeAddon,
      );
      assert.equal(foreign.gcm, null);
      assert.match(foreign.reason as string, /not Node's \(\/lib\/libcrypto\.so\.3\)/);
    });

    it("gcm: 'node' uses node:crypto, 'auto' the addon", () => {
      const c = segmentCipher(randomBytes(32), randomBytes(16), randomBytes(7), randomBytes(35), 'node');
      assert.equal(c.engine, 'node');
      const auto = segmentCipher(randomBytes(32), randomBytes(16), randomBytes(7), randomBytes(35));
      assert.equal(auto.engine, forcedNode ? 'node' : 'native');
    });

    it('GUARDIAN_ARCHIVE_GCM=node: a process on node:crypto writes the same archive and reads this one', async () => {
      const n = 5 * SEGMENT_SIZE + 77;
      const ours = await seal(patterned(n), 'native', 'child');
      const dir = tempDir();
      const file = join(dir.path, 'ours.gdna');
      writeFileSync(file, ours);
      const script = `
        const { gcmEngine } = await import('./src/shared/archive/segment.ts');
        const f = await import('./src/shared/archive/format.ts');
        const { createHash } = await import('node:crypto');
        const [n, ours] = [Number(process.argv[1]), (await import('node:fs')).readFileSync(process.argv[2])];
        const pt = Buffer.alloc(n);
        for (let i = 0; i < n; i++) pt[i] = (i * 7 + (i >> 16)) & 0xff;
        let i = 0;
        const random = (k) => Buffer.from(createHash('sha256').update('child/' + i++).digest().subarray(0, k));
        const kdf = { memoryKiB: 1024, iterations: 1, parallelism: 1, salt: Buffer.alloc(16, 7) };
        const kek = await f.deriveKek(${JSON.stringify(SECRET)}, kdf);
        const ct = await f.encryptBuffer(pt, kek, { kdf, random });
        const r = await f.ArchiveReader.open(f.bufferSource(ours), kek);
        const back = await r.read(0, n - 1);
        console.log(JSON.stringify({ ...gcmEngine(), same: ct.equals(ours), read: back.equals(pt) }));`;
      let stdout: string;
      try {
        ({ stdout } = await execFileAsync(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script, String(n), file],
          { cwd: projectRoot, env: { ...process.env, GUARDIAN_ARCHIVE_GCM: 'node' } },
        ));
      } finally {
        dir.remove();
      }
      assert.deepEqual(JSON.parse(stdout), {
        engine: 'node',
        reason: 'GUARDIAN_ARCHIVE_GCM=node',
        same: true,
        read: true,
      });
    });
  });
});
