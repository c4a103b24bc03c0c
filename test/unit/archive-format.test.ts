// The archive format (src/shared/archive/format.ts, docs/archive-format.md): round trips, random ranges against the
// plaintext (fast-check), the tamper matrix, Argon2 bounds, rotation, secret files, and the test vectors (the
// library reproduces them from their fixed randomness, decrypts them, refuses each damaged variant, and a decryptor
// written from the document alone agrees with it).
import assert from 'node:assert/strict';
import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { inspect } from 'node:util';

import { hashRaw } from '@node-rs/argon2';
import fc from 'fast-check';

import {
  ArchiveReader,
  type ByteSource,
  bufferSource,
  ciphertextSize,
  createEncryptor,
  createSecret,
  DEFAULT_KDF,
  decryptFile,
  deriveKek,
  encryptBuffer,
  encryptFile,
  encryptStream,
  HEADER_SIZE,
  IMMUTABLE_SIZE,
  type Kek,
  LAYOUT,
  normalizeSecret,
  parseHeader,
  plaintextSizeOf,
  readSecretFile,
  rewrap,
  SEGMENT_SIZE,
  SEGMENT_STORED_SIZE,
  type Secret,
  TAG_SIZE,
  verifyFile,
  writeSecretFile,
} from '../../src/shared/archive/format.ts';
import { GuardianError } from '../../src/shared/errors.ts';
import { tempDir } from '../helpers.ts';

const LIGHT = { memoryKiB: 1024, iterations: 1, parallelism: 1 };
const SECRET = 'correct horse battery staple';
const OTHER = 'a different archive secret';

const seal = (pt: Buffer, secret: Secret | Kek = SECRET) => encryptBuffer(pt, secret, { kdf: LIGHT });
const open = (ct: Buffer, secret: Secret | Kek = SECRET) => ArchiveReader.open(bufferSource(ct), secret);

/** The error a full read of `ct` gives (open, then every segment), or null when it is sound. */
async function failure(ct: Buffer, secret: Secret | Kek = SECRET): Promise<GuardianError | null> {
  try {
    await (await open(ct, secret)).verify();
    return null;
  } catch (err) {
    assert.ok(err instanceof GuardianError, `not a GuardianError: ${err}`);
    return err;
  }
}

async function assertRefused(ct: Buffer, code: string, what: string, secret: Secret = SECRET): Promise<string> {
  const err = await failure(ct, secret);
  assert.ok(err, `${what}: accepted`);
  assert.equal(err.code, code, `${what}: ${err.message}`);
  return err.message;
}

const segmentAt = (ct: Buffer, i: number) =>
  ct.subarray(HEADER_SIZE + i * SEGMENT_STORED_SIZE, HEADER_SIZE + (i + 1) * SEGMENT_STORED_SIZE);

const patterned = (n: number) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 16)) & 0xff;
  return b;
};

/** A source that records what was read from it. */
function recording(ct: Buffer): ByteSource & { reads: [number, number][] } {
  const reads: [number, number][] = [];
  return {
    size: ct.length,
    reads,
    async read(offset, length) {
      reads.push([offset, length]);
      return ct.subarray(offset, offset + length);
    },
  };
}

describe('archive format', function () {
  this.timeout(120_000);

  describe('round trips', () => {
    for (const n of [0, 1, 100, 65535, 65536, 65537, 131072, 131073, 3 * 1024 * 1024 + 5]) {
      it(`${n} bytes: buffer, stream and file agree; size, segments and plaintext come back`, async () => {
        const pt = randomBytes(n);
        const ct = await seal(pt);
        assert.equal(ct.length, ciphertextSize(n));
        assert.equal(plaintextSizeOf(ct.length), n);
        const r = await open(ct);
        assert.equal(r.plaintextSize, n);
        assert.equal(r.segmentCount, Math.max(1, Math.ceil(n / SEGMENT_SIZE)));
        assert.ok((await buffer(r.stream())).equals(pt));
        if (n) assert.ok((await r.read(0, n - 1)).equals(pt));
        await r.verify();
        // The stream, fed in odd pieces, makes an archive that reads back the same.
        const pieces: Buffer[] = [];
        for (let at = 0; at < n; ) {
          const len = Math.min(n - at, 1 + Math.floor(Math.random() * 100_000));
          pieces.push(pt.subarray(at, at + len));
          at += len;
        }
        const streamed = await buffer(Readable.from(pieces).pipe(encryptStream(SECRET, { kdf: LIGHT })));
        assert.equal(streamed.length, ct.length);
        assert.ok((await buffer((await open(streamed)).stream())).equals(pt));
      });
    }

    it('files: encryptFile reports sizes and the SHA-256 of what it wrote; decryptFile writes 0600 plaintext', async () => {
      const dir = tempDir();
      try {
        const pt = randomBytes(200_000);
        writeFileSync(join(dir.path, 'clip.mp4'), pt);
        const r = await encryptFile(join(dir.path, 'clip.mp4'), join(dir.path, 'clip.gdna'), SECRET, { kdf: LIGHT });
        const ct = readFileSync(join(dir.path, 'clip.gdna'));
        assert.deepEqual(r, {
          plaintextBytes: pt.length,
          ciphertextBytes: ct.length,
          sha256: createHash('sha256').update(ct).digest('hex'),
        });
        const d = await decryptFile(join(dir.path, 'clip.gdna'), join(dir.path, 'out.mp4'), SECRET);
        assert.deepEqual(d, { plaintextBytes: pt.length, bytesWritten: pt.length });
        assert.ok(readFileSync(join(dir.path, 'out.mp4')).equals(pt));
        assert.equal(statSync(join(dir.path, 'out.mp4')).mode & 0o777, 0o600);
        const part = await decryptFile(join(dir.path, 'clip.gdna'), join(dir.path, 'part'), SECRET, { start: 70_000 });
        assert.equal(part.bytesWritten, pt.length - 70_000);
        assert.ok(readFileSync(join(dir.path, 'part')).equals(pt.subarray(70_000)));
        assert.equal((await verifyFile(join(dir.path, 'clip.gdna'), SECRET)).segments, 4);
        await assert.rejects(encryptFile(join(dir.path, 'clip.mp4'), join(dir.path, 'clip.mp4'), SECRET), {
          code: 'INVALID_ARGUMENT',
        });
        await assert.rejects(encryptFile(join(dir.path, 'missing'), join(dir.path, 'x'), SECRET), {
          code: 'NOT_FOUND',
        });
      } finally {
        dir.remove();
      }
    });

    it('an Encryptor refuses use after final()', async () => {
      const e = await createEncryptor(SECRET, { kdf: LIGHT });
      e.final();
      assert.throws(() => e.update(Buffer.from('x')), { code: 'INVALID_STATE' });
      assert.throws(() => e.final(), { code: 'INVALID_STATE' });
    });
  });

  describe('random access', () => {
    const sizes = [1, 2, 65535, 65536, 65537, 3 * 65536, 3 * 65536 + 1, 4_200_000];
    const objects = new Map<number, { pt: Buffer; ct: Buffer }>();
    before(async () => {
      for (const n of sizes) {
        const pt = patterned(n);
        objects.set(n, { pt, ct: await seal(pt) });
      }
    });

    it('any range [a, b] reads back as the plaintext, by read() and by stream() (fast-check)', async () => {
      const boundary = (n: number) =>
        fc.constantFrom(
          ...[0, 1, SEGMENT_SIZE - 1, SEGMENT_SIZE, SEGMENT_SIZE + 1, 2 * SEGMENT_SIZE - 1, 2 * SEGMENT_SIZE, n - 1]
            .filter((x) => x >= 0 && x < n)
            .map((x) => x),
        );
      const point = (n: number) => fc.oneof(fc.integer({ min: 0, max: n - 1 }), boundary(n));
      const arb = fc
        .constantFrom(...sizes)
        .chain((n) => fc.tuple(fc.constant(n), point(n), point(n)))
        .map(([n, x, y]) => [n, Math.min(x, y), Math.max(x, y)] as const);
      await fc.assert(
        fc.asyncProperty(arb, async ([n, a, b]) => {
          const { pt, ct } = objects.get(n) as { pt: Buffer; ct: Buffer };
          const r = await open(ct);
          const want = pt.subarray(a, b + 1);
          assert.ok((await r.read(a, b)).equals(want), `read ${a}-${b} of ${n}`);
          assert.ok((await buffer(r.stream(a, b))).equals(want), `stream ${a}-${b} of ${n}`);
        }),
        { numRuns: 300 },
      );
    });

    it('a range decrypts only the segments it touches (offset headerLen + i * 65552)', async () => {
      const { pt, ct } = objects.get(4_200_000) as { pt: Buffer; ct: Buffer };
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: pt.length - 1 }),
          fc.integer({ min: 1, max: 300_000 }),
          async (a, len) => {
            const b = Math.min(pt.length - 1, a + len - 1);
            const src = recording(ct);
            const r = await ArchiveReader.open(src, SECRET);
            src.reads.length = 0; // open() read the header, first and last segments
            assert.ok((await r.read(a, b)).equals(pt.subarray(a, b + 1)));
            const first = Math.floor(a / SEGMENT_SIZE);
            const last = Math.floor(b / SEGMENT_SIZE);
            const lastIndex = r.segmentCount - 1;
            const upTo = Math.min(last, lastIndex - 1); // the last segment was read at open
            if (upTo < first) assert.deepEqual(src.reads, []);
            else
              assert.deepEqual(src.reads, [
                [HEADER_SIZE + first * SEGMENT_STORED_SIZE, (upTo - first + 1) * SEGMENT_STORED_SIZE],
              ]);
            const cr = r.ciphertextRange(a, b);
            assert.equal(cr.offset, HEADER_SIZE + first * SEGMENT_STORED_SIZE);
            assert.equal(cr.offset + cr.length, Math.min(ct.length, HEADER_SIZE + (last + 1) * SEGMENT_STORED_SIZE));
          },
        ),
        { numRuns: 100 },
      );
    });

    it('open() reads the header and first segment in one read, and the last segment', async () => {
      const { ct } = objects.get(4_200_000) as { pt: Buffer; ct: Buffer };
      const src = recording(ct);
      await ArchiveReader.open(src, SECRET);
      const lastAt = HEADER_SIZE + Math.floor(4_200_000 / SEGMENT_SIZE) * SEGMENT_STORED_SIZE;
      assert.deepEqual(src.reads, [
        [0, HEADER_SIZE + SEGMENT_STORED_SIZE],
        [lastAt, ct.length - lastAt],
      ]);
      const small = await seal(Buffer.from('snapshot'));
      const s2 = recording(small);
      await ArchiveReader.open(s2, SECRET);
      assert.equal(s2.reads.length, 1, 'a small object takes one read');
    });

    it('ranges outside the plaintext are refused: RANGE_NOT_SATISFIABLE or INVALID_ARGUMENT', async () => {
      const r = await open((objects.get(65537) as { ct: Buffer }).ct);
      await assert.rejects(r.read(0, 65537), { code: 'RANGE_NOT_SATISFIABLE' });
      await assert.rejects(r.read(5, 4), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(r.read(-1, 4), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(r.read(0.5, 4), { code: 'INVALID_ARGUMENT' });
      const empty = await open(await seal(Buffer.alloc(0)));
      assert.equal(empty.plaintextSize, 0);
      assert.equal((await buffer(empty.stream())).length, 0);
      await assert.rejects(empty.read(0, 0), { code: 'RANGE_NOT_SATISFIABLE' });
    });
  });

  describe('tampering is detected', () => {
    const n = 5 * SEGMENT_SIZE + 1234; // six segments, the last short
    let pt: Buffer;
    let ct: Buffer;
    let other: Buffer;
    before(async () => {
      pt = patterned(n);
      ct = await seal(pt);
      other = await seal(pt); // same plaintext and secret, another object
    });

    it('truncation: at every segment boundary, inside segments, inside the header, to nothing', async () => {
      for (let k = 0; k <= 5; k++) {
        const msg = await assertRefused(
          ct.subarray(0, HEADER_SIZE + k * SEGMENT_STORED_SIZE),
          'CORRUPT_DATA',
          `cut at ${k}`,
        );
        if (k > 0) assert.match(msg, /truncated: it ends after segment \d+, which is not its last segment/);
      }
      for (const cut of [1, 15, 16, 17, 1000, SEGMENT_STORED_SIZE + 7])
        await assertRefused(ct.subarray(0, ct.length - cut), 'CORRUPT_DATA', `cut ${cut} bytes`);
      for (const len of [0, 3, 4, 5, 100, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 15])
        await assertRefused(ct.subarray(0, len), 'CORRUPT_DATA', `first ${len} bytes`);
    });

    it('reordering within the object: swapped or repeated segments', async () => {
      const swap = Buffer.from(ct);
      segmentAt(ct, 2).copy(segmentAt(swap, 1));
      segmentAt(ct, 1).copy(segmentAt(swap, 2));
      await assertRefused(swap, 'CORRUPT_DATA', 'segments 1 and 2 swapped');
      const repeat = Buffer.from(ct);
      segmentAt(ct, 0).copy(segmentAt(repeat, 3));
      await assertRefused(repeat, 'CORRUPT_DATA', 'segment 0 again at 3');
      // the last (short) segment moved to the end of a shorter object
      const short = Buffer.concat([
        ct.subarray(0, HEADER_SIZE + 3 * SEGMENT_STORED_SIZE),
        ct.subarray(HEADER_SIZE + 5 * SEGMENT_STORED_SIZE),
      ]);
      await assertRefused(short, 'CORRUPT_DATA', 'segments 3 and 4 dropped');
    });

    it("a segment from another object (same secret, same plaintext, same place) or the other object's header", async () => {
      for (const i of [0, 2, 5]) {
        const spliced = Buffer.from(ct);
        const from = i === 5 ? other.subarray(HEADER_SIZE + 5 * SEGMENT_STORED_SIZE) : segmentAt(other, i);
        from.copy(spliced, HEADER_SIZE + i * SEGMENT_STORED_SIZE);
        await assertRefused(spliced, 'CORRUPT_DATA', `segment ${i} from another object`);
      }
      await assertRefused(
        Buffer.concat([other.subarray(0, HEADER_SIZE), ct.subarray(HEADER_SIZE)]),
        'CORRUPT_DATA',
        'header of another object',
      );
    });

    it('a flipped bit in every header byte', async () => {
      for (let i = 0; i < HEADER_SIZE; i++) {
        const b = Buffer.from(ct);
        b[i] = (b[i] as number) ^ (1 << (i % 8));
        await assertRefused(b, 'CORRUPT_DATA', `header byte ${i}`);
      }
    });

    it('a flipped byte in each region of the body: ciphertext start, middle, end, and every tag byte', async () => {
      const starts = [0, 1, 3, 5].map((i) => HEADER_SIZE + i * SEGMENT_STORED_SIZE);
      const offsets = [...starts.flatMap((s) => [s, s + 1, s + 32_768, s + SEGMENT_SIZE - 1])];
      for (const seg of [0, 5]) {
        const tagAt = seg === 5 ? ct.length - TAG_SIZE : HEADER_SIZE + SEGMENT_STORED_SIZE - TAG_SIZE;
        for (let t = 0; t < TAG_SIZE; t++) offsets.push(tagAt + t);
      }
      offsets.push(ct.length - TAG_SIZE - 1); // last ciphertext byte of the short segment
      for (const off of offsets.filter((o) => o < ct.length)) {
        const b = Buffer.from(ct);
        b[off] = (b[off] as number) ^ 0xff;
        await assertRefused(b, 'CORRUPT_DATA', `body byte ${off}`);
      }
    });

    it('appended garbage: a byte, a tag, a whole segment, a copy of the last segment', async () => {
      for (const extra of [
        Buffer.from([0]),
        randomBytes(16),
        randomBytes(SEGMENT_STORED_SIZE),
        ct.subarray(HEADER_SIZE + 5 * SEGMENT_STORED_SIZE),
      ])
        await assertRefused(Buffer.concat([ct, extra]), 'CORRUPT_DATA', `${extra.length} bytes appended`);
      // An object whose last segment is full, followed by bytes: the last segment is found where it is not last.
      const full = await seal(patterned(2 * SEGMENT_SIZE));
      const msg = await assertRefused(
        Buffer.concat([full, randomBytes(100)]),
        'CORRUPT_DATA',
        'after a full last segment',
      );
      assert.match(msg, /bytes appended: segment 1 is its last segment but 100 bytes follow it/);
    });

    it('a wrong secret is UNAUTHORIZED and says so; an empty file or a non-archive is CORRUPT_DATA', async () => {
      const msg = await assertRefused(ct, 'UNAUTHORIZED', 'wrong secret', OTHER);
      assert.match(msg, /wrong archive secret/);
      await assertRefused(Buffer.alloc(0), 'CORRUPT_DATA', 'empty file');
      await assertRefused(
        Buffer.from('GIF89a not an archive at all, but long enough to have a header'),
        'CORRUPT_DATA',
        'not an archive',
      );
      const empty = await seal(Buffer.alloc(0));
      assert.equal(await failure(empty), null);
      const flipped = Buffer.from(empty);
      flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
      await assertRefused(flipped, 'CORRUPT_DATA', 'empty archive with a flipped tag');
      await assertRefused(empty.subarray(0, HEADER_SIZE), 'CORRUPT_DATA', 'empty archive without its segment');
    });

    it('never releases plaintext of a segment that failed: a stream stops before it; decryptFile leaves nothing', async () => {
      const big = patterned(40 * SEGMENT_SIZE);
      const bad = await seal(big);
      const at = HEADER_SIZE + 20 * SEGMENT_STORED_SIZE + 5; // in segment 20
      bad[at] = (bad[at] as number) ^ 1;
      const r = await open(bad);
      const got: Buffer[] = [];
      await assert.rejects(
        (async () => {
          for await (const chunk of r.stream()) got.push(chunk as Buffer);
        })(),
        { code: 'CORRUPT_DATA', message: /segment 20 of 40 failed authentication/ },
      );
      const released = Buffer.concat(got);
      assert.ok(released.length <= 20 * SEGMENT_SIZE, `released ${released.length} bytes`);
      assert.ok(released.equals(big.subarray(0, released.length)), 'only authentic plaintext came out');
      await assert.rejects(r.read(20 * SEGMENT_SIZE + 10, 20 * SEGMENT_SIZE + 10), { code: 'CORRUPT_DATA' });
      await assert.rejects(r.read(0, 40 * SEGMENT_SIZE - 1), { code: 'CORRUPT_DATA' });
      assert.ok((await r.read(0, 100)).equals(big.subarray(0, 101)), 'authentic segments still read');

      const dir = tempDir();
      try {
        writeFileSync(join(dir.path, 'bad.gdna'), bad);
        await assert.rejects(decryptFile(join(dir.path, 'bad.gdna'), join(dir.path, 'out'), SECRET), {
          code: 'CORRUPT_DATA',
        });
        assert.deepEqual(readdirSync(dir.path), ['bad.gdna'], 'no output, no temporary file');
        await assert.rejects(decryptFile(join(dir.path, 'bad.gdna'), join(dir.path, 'out'), OTHER), {
          code: 'UNAUTHORIZED',
        });
        assert.deepEqual(readdirSync(dir.path), ['bad.gdna']);
      } finally {
        dir.remove();
      }
    });
  });

  describe('key derivation', () => {
    /** `ct` with a header field rewritten and its digest made right again, as a hostile writer would. */
    const hostile = (ct: Buffer, offset: number, write: (b: Buffer) => void) => {
      const b = Buffer.from(ct);
      write(b.subarray(offset));
      createHash('sha256').update(b.subarray(0, LAYOUT.digest.offset)).digest().copy(b, LAYOUT.digest.offset, 0, 16);
      return b;
    };

    it('Argon2 settings past the bounds in a header are refused at once (4 GiB of memory: no allocation)', async () => {
      const ct = await seal(Buffer.from('evidence'));
      const cases: [string, Buffer][] = [
        ['memory 4 GiB', hostile(ct, LAYOUT.memoryKiB.offset, (b) => b.writeUInt32BE(4 * 1024 * 1024, 0))],
        ['memory 256 MiB + 1 KiB', hostile(ct, LAYOUT.memoryKiB.offset, (b) => b.writeUInt32BE(262145, 0))],
        ['memory 0', hostile(ct, LAYOUT.memoryKiB.offset, (b) => b.writeUInt32BE(0, 0))],
        ['iterations 11', hostile(ct, LAYOUT.iterations.offset, (b) => b.writeUInt32BE(11, 0))],
        ['iterations 2^32-1', hostile(ct, LAYOUT.iterations.offset, (b) => b.writeUInt32BE(0xffffffff, 0))],
        ['parallelism 5', hostile(ct, LAYOUT.parallelism.offset, (b) => b.writeUInt8(5, 0))],
        ['parallelism 0', hostile(ct, LAYOUT.parallelism.offset, (b) => b.writeUInt8(0, 0))],
        ['segment size 4 GiB', hostile(ct, LAYOUT.segmentSize.offset, (b) => b.writeUInt32BE(0xffffffff, 0))],
      ];
      for (const [what, b] of cases) {
        const t0 = performance.now();
        const err = await failure(b);
        const ms = performance.now() - t0;
        assert.equal(err?.code, 'INVALID_ARGUMENT', `${what}: ${err?.message}`);
        assert.ok(ms < 200, `${what}: refused in ${ms.toFixed(1)} ms`);
      }
      assert.throws(() => parseHeader(cases[0]?.[1] as Buffer), {
        message: /memoryKiB 4194304; accepted: a whole number from 1024 to 262144/,
      });
      // A key block altered by someone who recomputes the digest: the wrap's tag (or the key id) gives it away.
      const forged = hostile(ct, LAYOUT.wrappedKey.offset, (b) => b.writeUInt8((b[0] as number) ^ 1, 0));
      assert.match(
        await assertRefused(forged, 'CORRUPT_DATA', 'forged wrapped key'),
        /wrapped data key failed authentication/,
      );
      const resalted = hostile(ct, LAYOUT.salt.offset, (b) => b.writeUInt8((b[0] as number) ^ 1, 0));
      await assertRefused(resalted, 'UNAUTHORIZED', 'another salt');
      // A later version or another algorithm: UNSUPPORTED_INPUT (the digest is right, the reader does not know it).
      assert.throws(() => parseHeader(hostile(ct, LAYOUT.version.offset, (b) => b.writeUInt8(2, 0))), {
        code: 'UNSUPPORTED_INPUT',
      });
      assert.throws(() => parseHeader(hostile(ct, LAYOUT.algorithm.offset, (b) => b.writeUInt8(9, 0))), {
        code: 'UNSUPPORTED_INPUT',
      });
    });

    it('a writer refuses settings past the bounds too', async () => {
      for (const kdf of [
        { memoryKiB: 262145 },
        { iterations: 0 },
        { iterations: 11 },
        { parallelism: 5 },
        { salt: Buffer.alloc(8) },
      ])
        await assert.rejects(deriveKek(SECRET, { ...LIGHT, ...kdf }), { code: 'INVALID_ARGUMENT' });
      await assert.rejects(deriveKek('short'), { code: 'INVALID_ARGUMENT', message: /too short/ });
    });

    it('the default settings take under a second here, and the KEK is derived once per secret and salt', async () => {
      const salt = randomBytes(16);
      const t0 = performance.now();
      const kek = await deriveKek(SECRET, { ...DEFAULT_KDF, salt });
      const ms = performance.now() - t0;
      console.log(
        `      Argon2id ${DEFAULT_KDF.memoryKiB} KiB, ${DEFAULT_KDF.iterations} iterations: ${ms.toFixed(0)} ms`,
      );
      assert.ok(ms < 2000, `${ms} ms`);
      const t1 = performance.now();
      assert.equal(await deriveKek(`  ${SECRET}\n`, { ...DEFAULT_KDF, salt }), kek, 'cached (and the secret trimmed)');
      assert.ok(performance.now() - t1 < 50);
      assert.equal(kek.keyId.length, 16);
      // Neither printing nor serialising a Kek shows the key.
      const raw = await hashRaw(Buffer.from(SECRET), {
        algorithm: 2,
        memoryCost: 65536,
        timeCost: 3,
        parallelism: 1,
        salt,
      });
      assert.deepEqual(Object.keys(kek).sort(), ['kdf', 'keyId']);
      for (const shown of [JSON.stringify(kek), inspect(kek, { depth: 5, showHidden: true })])
        assert.ok(!shown.includes(raw.toString('hex')) && !shown.includes(inspect(raw)), shown);
      // The writer reuses one salt per secret, so every object of a process shares one KEK.
      const a = parseHeader(await seal(Buffer.from('a')));
      const b = parseHeader(await seal(Buffer.from('b')));
      assert.equal(a.keyId, b.keyId);
      assert.ok(a.kdf.salt.equals(b.kdf.salt));
      assert.notEqual(a.objectId, b.objectId);
      assert.notEqual(parseHeader(await seal(Buffer.from('c'), OTHER)).keyId, a.keyId);
    });

    it('a Kek opens archives written under another salt (another process) by deriving again from its secret', async () => {
      const salt = randomBytes(16);
      const ct = await encryptBuffer(Buffer.from('older footage'), SECRET, { kdf: { ...LIGHT, salt } });
      const writerKek = await deriveKek(SECRET, LIGHT);
      assert.notEqual(writerKek.keyId, parseHeader(ct).keyId);
      assert.equal((await (await open(ct, writerKek)).read(0, 12)).toString(), 'older footage');
      const wrong = await deriveKek(OTHER, LIGHT);
      await assert.rejects(open(ct, wrong), { code: 'UNAUTHORIZED' });
    });
  });

  describe('rotation', () => {
    it('re-wraps the header only: old secret refused after, new accepted, body bytes unchanged, idempotent', async () => {
      const dir = tempDir();
      try {
        const pt = randomBytes(3 * SEGMENT_SIZE + 77);
        const file = join(dir.path, 'clip.gdna');
        writeFileSync(file, await seal(pt));
        const before = readFileSync(file);
        const bodyHash = (b: Buffer) => createHash('sha256').update(b.subarray(HEADER_SIZE)).digest('hex');
        const r = await rewrap(file, SECRET, OTHER, { kdf: LIGHT });
        assert.equal(r.rotated, true);
        assert.notEqual(r.keyIdAfter, r.keyIdBefore);
        const after = readFileSync(file);
        assert.equal(after.length, before.length);
        assert.equal(bodyHash(after), bodyHash(before), 'body untouched');
        assert.ok(after.subarray(0, IMMUTABLE_SIZE).equals(before.subarray(0, IMMUTABLE_SIZE)), 'immutable part kept');
        assert.ok(!after.subarray(IMMUTABLE_SIZE, HEADER_SIZE).equals(before.subarray(IMMUTABLE_SIZE, HEADER_SIZE)));
        await assertRefused(after, 'UNAUTHORIZED', 'old secret after rotation', SECRET);
        assert.ok((await buffer((await open(after, OTHER)).stream())).equals(pt));
        assert.equal(parseHeader(after).keyId, r.keyIdAfter);
        // Run again (a rotation that stopped half way): nothing changes.
        assert.deepEqual(await rewrap(file, SECRET, OTHER, { kdf: LIGHT }), {
          rotated: false,
          keyIdBefore: r.keyIdAfter,
          keyIdAfter: r.keyIdAfter,
        });
        assert.ok(readFileSync(file).equals(after));
        await assert.rejects(rewrap(file, 'neither of the two secrets', 'nor this one either', { kdf: LIGHT }), {
          code: 'UNAUTHORIZED',
        });
        // A damaged header is not rotated (the body is not read: verify does that).
        const damaged = Buffer.from(before);
        damaged[20] = (damaged[20] as number) ^ 1;
        writeFileSync(join(dir.path, 'bad.gdna'), damaged);
        await assert.rejects(rewrap(join(dir.path, 'bad.gdna'), SECRET, OTHER, { kdf: LIGHT }), {
          code: 'CORRUPT_DATA',
        });
        assert.ok(readFileSync(join(dir.path, 'bad.gdna')).equals(damaged));
      } finally {
        dir.remove();
      }
    });
  });

  describe('secrets', () => {
    it('a recovery secret is 200 random bits in 8 groups of 5 Crockford symbols, and reads back however typed', () => {
      const s = createSecret();
      assert.match(s, /^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){7}$/);
      assert.notEqual(createSecret(), s);
      assert.equal(normalizeSecret(s.toLowerCase().replace(/-/g, ' ')), s);
      assert.equal(normalizeSecret(s.replace(/-/g, '')), s);
      assert.equal(normalizeSecret(Buffer.from(`${s}\n`)), s);
      assert.equal(
        normalizeSecret('oabcd-efghj-kmnpq-rstvw-xyz12-34567-89abc-defgl'),
        '0ABCD-EFGHJ-KMNPQ-RSTVW-XYZ12-34567-89ABC-DEFG1',
      );
      assert.equal(normalizeSecret('  my own passphrase  '), 'my own passphrase', 'other text is kept, trimmed');
      assert.throws(() => normalizeSecret('1234567'), { code: 'INVALID_ARGUMENT' });
      assert.throws(() => normalizeSecret(Buffer.from([0xff, 0xfe, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41])), {
        code: 'INVALID_ARGUMENT',
        message: /not UTF-8/,
      });
    });

    it('a secret file is written 0600, never replaced, and refused when group or others can read it', () => {
      const dir = tempDir();
      try {
        const file = join(dir.path, 'sub', 'archive.secret');
        const s = createSecret();
        writeSecretFile(file, s);
        assert.equal(statSync(file).mode & 0o777, 0o600);
        assert.equal(readSecretFile(file), s);
        assert.throws(() => writeSecretFile(file, createSecret()), { code: 'CONFLICT' });
        assert.equal(readSecretFile(file), s, 'the first secret is kept');
        assert.deepEqual(readdirSync(join(dir.path, 'sub')), ['archive.secret'], 'no temporary file left');
        for (const mode of [0o640, 0o604, 0o644]) {
          chmodSync(file, mode);
          assert.throws(() => readSecretFile(file), {
            code: 'PERMISSION_DENIED',
            message: new RegExp(`accessible by group or others \\(mode 0${mode.toString(8)}\\); run: chmod 600`),
          });
        }
        chmodSync(file, 0o400);
        assert.equal(readSecretFile(file), s);
        assert.throws(() => readSecretFile(join(dir.path, 'none')), { code: 'NOT_FOUND' });
        writeFileSync(join(dir.path, 'short'), 'abc\n', { mode: 0o600 });
        assert.throws(() => readSecretFile(join(dir.path, 'short')), {
          code: 'INVALID_ARGUMENT',
          message: /too short/,
        });
      } finally {
        dir.remove();
      }
    });
  });

  describe('test vectors (test/vectors/archive-v1.json)', () => {
    // The vectors document and the script that makes it (plain JSON and JavaScript, so loosely typed here).
    type Doc = any;
    interface VectorsScript {
      VECTORS_PATH: string;
      buildVectors(): Promise<Doc>;
      mutate(bytes: Buffer, mutation: Doc, byName: (name: string) => Buffer | undefined): Buffer;
      plaintextOf(spec: Doc): Buffer;
    }
    let script: VectorsScript;
    let doc: Doc;
    const plaintextOf = (spec: Doc) => script.plaintextOf(spec);
    before(async () => {
      script = (await import(new URL('../../scripts/archive-vectors.mjs', import.meta.url).href)) as VectorsScript;
      doc = JSON.parse(readFileSync(script.VECTORS_PATH, 'utf8'));
    });

    it('are what the library produces from their fixed randomness (regenerate: node --import tsx scripts/archive-vectors.mjs)', async () => {
      assert.deepEqual(await script.buildVectors(), doc);
    });

    /** A decryptor written from docs/archive-format.md alone: node:crypto and Argon2id, none of the library. */
    async function referenceDecrypt(ct: Buffer, secret: string): Promise<Buffer> {
      const u32 = (o: number) => ct.readUInt32BE(o);
      assert.equal(ct.subarray(0, 4).toString('latin1'), 'GDNA');
      const headerSize = ct.readUInt16BE(4);
      assert.equal(headerSize, 145);
      const digest = createHash('sha256').update(ct.subarray(0, 129)).digest().subarray(0, 16);
      assert.ok(digest.equals(ct.subarray(129, 145)), 'header digest');
      assert.deepEqual([ct[6], ct[7], u32(8), ct[35]], [1, 1, 65536, 1]);
      const kek = await hashRaw(Buffer.from(secret, 'utf8'), {
        algorithm: 2,
        version: 1,
        memoryCost: u32(36),
        timeCost: u32(40),
        parallelism: ct[44] as number,
        outputLen: 32,
        salt: ct.subarray(45, 61),
      });
      assert.ok(
        createHash('sha256').update('GDNA v1 key id').update(kek).digest().subarray(0, 8).equals(ct.subarray(61, 69)),
      );
      const unwrap = createDecipheriv('aes-256-gcm', kek, ct.subarray(69, 81));
      unwrap.setAAD(ct.subarray(0, 81));
      unwrap.setAuthTag(ct.subarray(113, 129));
      const dataKey = Buffer.concat([unwrap.update(ct.subarray(81, 113)), unwrap.final()]);
      const { hkdfSync } = await import('node:crypto');
      const key = Buffer.from(hkdfSync('sha256', dataKey, ct.subarray(12, 28), 'GDNA v1 segment key', 32));
      const out: Buffer[] = [];
      const n = Math.ceil((ct.length - 145) / 65552);
      for (let i = 0; i < n; i++) {
        const seg = ct.subarray(145 + i * 65552, Math.min(ct.length, 145 + (i + 1) * 65552));
        const nonce = Buffer.concat([ct.subarray(28, 35), Buffer.alloc(5)]);
        nonce.writeUInt32BE(i, 7);
        nonce[11] = i === n - 1 ? 1 : 0;
        const d = createDecipheriv('aes-256-gcm', key, nonce);
        d.setAAD(ct.subarray(0, 35));
        d.setAuthTag(seg.subarray(seg.length - 16));
        out.push(Buffer.concat([d.update(seg.subarray(0, seg.length - 16)), d.final()]));
      }
      return Buffer.concat(out);
    }

    it('decrypt with the library and with a decryptor written from the document', async () => {
      const built = new Map<string, Buffer>();
      for (const v of doc.positive) {
        const pt = plaintextOf(v.plaintext);
        // The whole ciphertext is in the file for small vectors; the larger ones are rebuilt and checked by hash.
        const ct: Buffer = v.expected.ciphertext
          ? Buffer.from(v.expected.ciphertext, 'hex')
          : await encryptBuffer(pt, v.secret, {
              kdf: { ...v.kdf, salt: Buffer.from(v.kdf.salt, 'hex') },
              random: (
                (q: Buffer[]) => () =>
                  q.shift() as Buffer
              )(['objectId', 'noncePrefix', 'dataKey', 'wrapNonce'].map((k) => Buffer.from(v.random[k], 'hex'))),
            });
        assert.equal(createHash('sha256').update(ct).digest('hex'), v.expected.ciphertextSha256, v.name);
        assert.equal(ct.subarray(0, HEADER_SIZE).toString('hex'), v.expected.header, v.name);
        assert.equal(parseHeader(ct).keyId, v.expected.keyId);
        const r = await open(ct, v.secret);
        assert.ok((await buffer(r.stream())).equals(pt), `${v.name}: library`);
        assert.ok((await referenceDecrypt(ct, v.normalizedSecret)).equals(pt), `${v.name}: reference`);
        built.set(v.name, ct);
      }
      const rot = doc.rotation;
      const rotated = Buffer.concat([
        Buffer.from(rot.expected.header, 'hex'),
        (built.get(rot.of) as Buffer).subarray(HEADER_SIZE),
      ]);
      assert.equal(createHash('sha256').update(rotated).digest('hex'), rot.expected.ciphertextSha256);
      assert.ok(
        (await referenceDecrypt(rotated, rot.newSecret)).equals(
          plaintextOf(doc.positive.find((v: Doc) => v.name === rot.of).plaintext),
        ),
      );
      await assertRefused(
        rotated,
        'UNAUTHORIZED',
        'rotated vector, old secret',
        doc.positive.find((v: Doc) => v.name === rot.of).secret,
      );

      for (const v of doc.negative) {
        const base = doc.positive.find((p: Doc) => p.name === v.of);
        const bytes = script.mutate(built.get(v.of) as Buffer, v.mutation, (name: string) => built.get(name));
        const secret = v.mutation.type === 'secret' ? v.mutation.secret : base.secret;
        await assertRefused(bytes, v.error, v.name, secret);
      }
    });
  });
});
