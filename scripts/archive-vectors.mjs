// Test vectors of the archive format, version 1 (docs/archive-format.md): `node --import tsx
// scripts/archive-vectors.mjs` writes test/vectors/archive-v1.json. Every random input is fixed (derived from the
// vector's name with SHA-256 and written out in the file), so the same file comes out every time; the unit test
// (test/unit/archive-format.test.ts) checks that the library still produces it, decrypts it, refuses each damaged
// variant with the code given, and that a decryptor written from the document alone agrees.
import { execFileSync } from 'node:child_process';
import { createHash, hkdfSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { hashRaw } from '@node-rs/argon2';

import {
  DEFAULT_KDF,
  encryptBuffer,
  HEADER_SIZE,
  LAYOUT,
  normalizeSecret,
  rewrapHeader,
  SEGMENT_SIZE,
  SEGMENT_STORED_SIZE,
  TAG_SIZE,
} from '../src/shared/archive/format.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const VECTORS_PATH = join(root, 'test', 'vectors', 'archive-v1.json');

/** Up to this plaintext size a vector carries the whole ciphertext; above, its header, SHA-256 and segment tags. */
const FULL_CIPHERTEXT_MAX = 1024;
const LIGHT_KDF = { memoryKiB: 1024, iterations: 1, parallelism: 1 };

/** `n` bytes named by `label`: SHA-256 in counter mode, so every fixed input is reproducible from its name. */
function fixed(label, n) {
  const out = [];
  for (let i = 0; out.length * 32 < n; i++) out.push(createHash('sha256').update(`${label}/${i}`).digest());
  return Buffer.concat(out).subarray(0, n);
}

/** The plaintext pattern of the larger vectors: byte i is i mod 251. */
export function pattern(length) {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = i % 251;
  return b;
}

/** A random source handing out the given buffers in order (the library asks for object id, nonce prefix, data
 * key, wrap nonce). */
export function replay(buffers) {
  const queue = [...buffers];
  return (n) => {
    const b = queue.shift();
    if (!b || b.length !== n) throw new Error(`vector randomness: wanted ${n} bytes, have ${b?.length}`);
    return Buffer.from(b);
  };
}

const POSITIVE = [
  { name: 'empty', secret: 'correct horse battery staple', plaintext: { hex: '' } },
  { name: 'one-byte', secret: 'correct horse battery staple', plaintext: { hex: '47' } },
  {
    name: 'text',
    secret: 'correct horse battery staple',
    plaintext: { hex: Buffer.from('Guardian archive format v1 test vector.\n').toString('hex') },
  },
  {
    name: 'recovery-secret-typed-loosely',
    // The recovery form typed back in lower case, without dashes, O for 0 and l for 1: it means the canonical form.
    secret: 'oabcd efghj kmnpq rstvw xyz12 34567 89abc defgl',
    plaintext: { hex: Buffer.from('typed back').toString('hex') },
  },
  { name: 'one-full-segment', secret: 'correct horse battery staple', plaintext: { pattern: SEGMENT_SIZE } },
  { name: 'two-segments', secret: 'correct horse battery staple', plaintext: { pattern: SEGMENT_SIZE + 1 } },
  { name: 'three-segments', secret: 'correct horse battery staple', plaintext: { pattern: 2 * SEGMENT_SIZE + 100 } },
  {
    name: 'three-segments-other-object',
    secret: 'correct horse battery staple',
    plaintext: { pattern: 2 * SEGMENT_SIZE + 100 },
  },
  {
    name: 'default-kdf',
    secret: 'correct horse battery staple',
    kdf: { ...DEFAULT_KDF },
    plaintext: { hex: Buffer.from('Argon2id with the default settings').toString('hex') },
  },
];

/** How each damaged variant is made from a positive vector, and the error code a reader must give. */
const NEGATIVE = [
  {
    name: 'truncated-at-segment-boundary',
    of: 'three-segments',
    mutation: { type: 'truncate', length: HEADER_SIZE + 2 * SEGMENT_STORED_SIZE },
    error: 'CORRUPT_DATA',
  },
  {
    name: 'truncated-inside-last-segment',
    of: 'three-segments',
    mutation: { type: 'cut', bytes: 10 },
    error: 'CORRUPT_DATA',
  },
  { name: 'truncated-inside-header', of: 'text', mutation: { type: 'truncate', length: 100 }, error: 'CORRUPT_DATA' },
  { name: 'segments-swapped', of: 'three-segments', mutation: { type: 'swap', a: 0, b: 1 }, error: 'CORRUPT_DATA' },
  {
    name: 'segment-from-another-object',
    of: 'three-segments',
    mutation: { type: 'splice', from: 'three-segments-other-object', segment: 1 },
    error: 'CORRUPT_DATA',
  },
  { name: 'flipped-magic', of: 'text', mutation: { type: 'flip', offset: 0, mask: 1 }, error: 'CORRUPT_DATA' },
  {
    name: 'flipped-nonce-prefix',
    of: 'text',
    mutation: { type: 'flip', offset: LAYOUT.noncePrefix.offset, mask: 0x80 },
    error: 'CORRUPT_DATA',
  },
  {
    name: 'flipped-wrapped-key',
    of: 'text',
    mutation: { type: 'flip', offset: LAYOUT.wrappedKey.offset + 5, mask: 4 },
    error: 'CORRUPT_DATA',
  },
  {
    name: 'flipped-body-byte',
    of: 'three-segments',
    mutation: { type: 'flip', offset: HEADER_SIZE + SEGMENT_STORED_SIZE + 1000, mask: 1 },
    error: 'CORRUPT_DATA',
  },
  {
    name: 'flipped-tag-byte',
    of: 'three-segments',
    mutation: { type: 'flip', offset: HEADER_SIZE + SEGMENT_STORED_SIZE - 1, mask: 0x40 },
    error: 'CORRUPT_DATA',
  },
  { name: 'appended-byte', of: 'three-segments', mutation: { type: 'append', hex: '00' }, error: 'CORRUPT_DATA' },
  {
    name: 'appended-segment-copy',
    of: 'two-segments',
    mutation: { type: 'duplicate-segment', segment: 0 },
    error: 'CORRUPT_DATA',
  },
  {
    name: 'wrong-secret',
    of: 'text',
    mutation: { type: 'secret', secret: 'correct horse battery stapler' },
    error: 'UNAUTHORIZED',
  },
  {
    name: 'hostile-kdf-memory-4gib',
    of: 'text',
    // The header asks for 4 GiB of Argon2 memory, with a correct digest (as an attacker would make it).
    mutation: { type: 'header-u32', offset: LAYOUT.memoryKiB.offset, value: 4 * 1024 * 1024 },
    error: 'INVALID_ARGUMENT',
  },
  {
    name: 'hostile-kdf-iterations',
    of: 'text',
    mutation: { type: 'header-u32', offset: LAYOUT.iterations.offset, value: 1000000 },
    error: 'INVALID_ARGUMENT',
  },
];

/** Applies a negative vector's mutation (the test does the same from the JSON). */
export function mutate(bytes, mutation, byName) {
  const b = Buffer.from(bytes);
  const seg = (buf, i) =>
    buf.subarray(HEADER_SIZE + i * SEGMENT_STORED_SIZE, HEADER_SIZE + (i + 1) * SEGMENT_STORED_SIZE);
  switch (mutation.type) {
    case 'truncate':
      return b.subarray(0, mutation.length);
    case 'cut':
      return b.subarray(0, b.length - mutation.bytes);
    case 'flip':
      b[mutation.offset] ^= mutation.mask;
      return b;
    case 'append':
      return Buffer.concat([b, Buffer.from(mutation.hex, 'hex')]);
    case 'duplicate-segment':
      return Buffer.concat([b, seg(b, mutation.segment)]);
    case 'swap': {
      const a = Buffer.from(seg(b, mutation.a));
      seg(b, mutation.b).copy(seg(b, mutation.a));
      a.copy(seg(b, mutation.b));
      return b;
    }
    case 'splice':
      seg(byName(mutation.from), mutation.segment).copy(seg(b, mutation.segment));
      return b;
    case 'header-u32': {
      b.writeUInt32BE(mutation.value, mutation.offset);
      createHash('sha256').update(b.subarray(0, LAYOUT.digest.offset)).digest().copy(b, LAYOUT.digest.offset, 0, 16);
      return b;
    }
    case 'secret':
      return b;
    default:
      throw new Error(`unknown mutation ${mutation.type}`);
  }
}

/** The intermediate values the document defines, computed from it with node:crypto and Argon2id directly. */
async function intermediates(secret, kdf, salt, dataKey, objectId) {
  const kek = await hashRaw(Buffer.from(normalizeSecret(secret), 'utf8'), {
    algorithm: 2,
    version: 1,
    memoryCost: kdf.memoryKiB,
    timeCost: kdf.iterations,
    parallelism: kdf.parallelism,
    outputLen: 32,
    salt,
  });
  const keyId = createHash('sha256').update('GDNA v1 key id').update(kek).digest().subarray(0, 8);
  const segmentKey = Buffer.from(hkdfSync('sha256', dataKey, objectId, 'GDNA v1 segment key', 32));
  return { kek: kek.toString('hex'), keyId: keyId.toString('hex'), segmentKey: segmentKey.toString('hex') };
}

export function plaintextOf(spec) {
  return spec.pattern !== undefined ? pattern(spec.pattern) : Buffer.from(spec.hex, 'hex');
}

function segmentTags(ct) {
  const tags = [];
  for (let at = HEADER_SIZE; at < ct.length; at += SEGMENT_STORED_SIZE) {
    const end = Math.min(at + SEGMENT_STORED_SIZE, ct.length);
    tags.push(ct.subarray(end - TAG_SIZE, end).toString('hex'));
  }
  return tags;
}

/** Builds the vectors document (deterministic: the same bytes every time). */
export async function buildVectors() {
  const positive = [];
  const ciphertexts = new Map();
  for (const v of POSITIVE) {
    const kdf = v.kdf ?? LIGHT_KDF;
    const salt = fixed(`${v.name}/salt`, 16);
    const random = {
      objectId: fixed(`${v.name}/objectId`, 16),
      noncePrefix: fixed(`${v.name}/noncePrefix`, 7),
      dataKey: fixed(`${v.name}/dataKey`, 32),
      wrapNonce: fixed(`${v.name}/wrapNonce`, 12),
    };
    const plaintext = plaintextOf(v.plaintext);
    const ct = await encryptBuffer(plaintext, v.secret, {
      kdf: { ...kdf, salt },
      random: replay([random.objectId, random.noncePrefix, random.dataKey, random.wrapNonce]),
    });
    ciphertexts.set(v.name, ct);
    positive.push({
      name: v.name,
      secret: v.secret,
      normalizedSecret: normalizeSecret(v.secret),
      kdf: { ...kdf, salt: salt.toString('hex') },
      random: Object.fromEntries(Object.entries(random).map(([k, b]) => [k, b.toString('hex')])),
      plaintext: v.plaintext,
      plaintextSize: plaintext.length,
      plaintextSha256: createHash('sha256').update(plaintext).digest('hex'),
      expected: {
        ...(await intermediates(v.secret, kdf, salt, random.dataKey, random.objectId)),
        header: ct.subarray(0, HEADER_SIZE).toString('hex'),
        ciphertextSize: ct.length,
        ciphertextSha256: createHash('sha256').update(ct).digest('hex'),
        ...(plaintext.length <= FULL_CIPHERTEXT_MAX
          ? { ciphertext: ct.toString('hex') }
          : { segmentTags: segmentTags(ct) }),
      },
    });
  }

  // Rotation: the three-segment object re-wrapped under another secret. Only the header changes.
  const base = 'three-segments';
  const newSecret = 'a new archive secret after rotation';
  const newSalt = fixed('rotation/salt', 16);
  const wrapNonce = fixed('rotation/wrapNonce', 12);
  const before = ciphertexts.get(base);
  const rotated = await rewrapHeader(
    before.subarray(0, HEADER_SIZE),
    POSITIVE.find((v) => v.name === base).secret,
    newSecret,
    {
      kdf: { ...LIGHT_KDF, salt: newSalt },
      random: replay([wrapNonce]),
    },
  );
  const rotation = {
    name: 'rotated',
    of: base,
    newSecret,
    kdf: { ...LIGHT_KDF, salt: newSalt.toString('hex') },
    wrapNonce: wrapNonce.toString('hex'),
    expected: {
      keyId: rotated.keyIdAfter,
      header: rotated.header.toString('hex'),
      // The body (everything after the header) is unchanged.
      ciphertextSha256: createHash('sha256').update(rotated.header).update(before.subarray(HEADER_SIZE)).digest('hex'),
    },
  };

  return {
    format: 'Guardian archive (GDNA) version 1',
    document: 'docs/archive-format.md',
    generatedBy: 'node --import tsx scripts/archive-vectors.mjs',
    notes: [
      'Fixed random inputs are SHA-256 of "<vector>/<field>/0" (counter mode), given here in hex.',
      'A writer asks for its random bytes in this order: objectId (16), noncePrefix (7), dataKey (32), wrapNonce (12).',
      'Pattern plaintexts: byte i is i mod 251.',
      `Vectors above ${FULL_CIPHERTEXT_MAX} plaintext bytes give the header, the SHA-256 of the whole ciphertext and each segment's tag.`,
      'Negative vectors say how to damage a positive one and which error code a reader gives (GuardianError codes).',
    ],
    positive,
    rotation,
    negative: NEGATIVE,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(VECTORS_PATH, `${JSON.stringify(await buildVectors(), null, 2)}\n`);
  // In the repository's JSON style (the test compares the parsed document, not the text).
  execFileSync(join(root, 'node_modules', '.bin', 'biome'), ['format', '--write', VECTORS_PATH], { stdio: 'ignore' });
  console.log(`wrote ${VECTORS_PATH}`);
}
