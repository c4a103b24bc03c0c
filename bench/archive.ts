// Archive format benchmark: encrypt and decrypt throughput of the format (src/shared/archive/format.ts) against raw
// node:crypto AES-256-GCM over the same 50 MB in the same run, the latency of decrypting a random 1 MB range of a
// 50 MB archive file, and what archiving a 1080p camera costs in CPU.
//
// Throughput is CPU time (user + system of this process; the bench runs V8 with --single-threaded-gc, so that is
// the main thread and GC): the development machine is shared and wall time mostly measures who else is running.
// Each round runs one pass of every variant back to back in a rotating order; a ratio is the median over the
// rounds of that round's ratio.
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import {
  ArchiveReader,
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
  gcmEngine,
  openFileSource,
  SEGMENT_STORED_SIZE,
} from '../src/shared/archive/format.ts';

const SIZE = 50 * 1000 * 1000;
/** What a file read hands over (the format's file functions read 1 MiB at a time). */
const CHUNK = 1 << 20;
/** Rounds of one pass of each variant over the 50 MB (a pass takes a few tens of ms). */
const ROUNDS = 30;
const FILE_ROUNDS = 5;
const RANGE = 1000 * 1000;
const RANGES = 200;
/** A 1080p camera's main stream as recorded (docs/benchmarks.md, record). */
const CAMERA_BYTES_PER_S = (3 * 1000 * 1000) / 8;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const gc = () => (globalThis as { gc?: () => void }).gc?.();

/** A writable that takes batches of chunks, as a file stream does, and drops them. */
function nullSink(): Writable & { bytes: number } {
  const sink = new Writable({
    highWaterMark: 1 << 20,
    writev(chunks, callback) {
      for (const c of chunks) sink.bytes += c.chunk.length;
      callback();
    },
    write(chunk: Buffer, _encoding, callback) {
      sink.bytes += chunk.length;
      callback();
    },
  }) as Writable & { bytes: number };
  sink.bytes = 0;
  return sink;
}

const piecesOf = (buf: Buffer, size: number) => {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
};

/** CPU seconds (and wall seconds) that `fn` takes. */
async function timed(fn: () => Promise<unknown> | unknown): Promise<{ s: number; cpuS: number }> {
  gc();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { s, cpuS: (cpu.user + cpu.system) / 1e6 };
}

type Variants = Record<string, () => Promise<unknown> | unknown>;

/** CPU seconds of each variant over `rounds` rounds, in a rotating order, after one warm-up pass of each. */
async function rounds(variants: Variants, n: number, progress: (m: string) => void, what: string) {
  const names = Object.keys(variants);
  const cpu: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (const k of names) await variants[k]?.();
  for (let r = 0; r < n; r++) {
    if (r % 10 === 0) progress(`archive: ${what}, round ${r + 1} of ${n}`);
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length] as string;
      cpu[name]?.push((await timed(variants[name] as () => unknown)).cpuS);
    }
  }
  return cpu;
}

/** Median over rounds of `ref`'s time / `of`'s time (throughput of `of` relative to `ref`). */
const ratio = (cpu: Record<string, number[]>, of: string, ref: string) =>
  round(median((cpu[ref] as number[]).map((x, i) => x / (cpu[of]?.[i] as number))), 3);
const ratioSpread = (cpu: Record<string, number[]>, of: string, ref: string) => {
  const xs = (cpu[ref] as number[]).map((x, i) => x / (cpu[of]?.[i] as number));
  return [round(pct(xs, 10), 3), round(pct(xs, 90), 3)];
};
const mbps = (cpu: Record<string, number[]>, bytes = SIZE) =>
  Object.fromEntries(Object.entries(cpu).map(([k, xs]) => [k, round(bytes / 1e6 / median(xs), 0)]));

export async function benchArchive(progress: (m: string) => void) {
  const plaintext = randomBytes(SIZE);
  const chunks = piecesOf(plaintext, CHUNK);
  const secret = createSecret();

  progress('archive: Argon2id key derivation');
  const kdfMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await deriveKek(secret, { ...DEFAULT_KDF, salt: randomBytes(16) }); // a new salt: not cached
    kdfMs.push(performance.now() - t0);
  }
  const kek = await deriveKek(secret);

  // The reference, `raw`: one AES-256-GCM over the same bytes, update() on 64 KiB pieces in a loop, the output
  // dropped at once. It is the fastest way to run node's GCM here (1 MiB updates allocate outputs past glibc's
  // mmap threshold), so it is the CPU's ceiling rather than a realistic consumer. `format` is the format's
  // incremental API (createEncryptor, ArchiveReader.batches) on the 1 MiB chunks a file read gives, its output
  // dropped too: header, a cipher per segment, nonces, tags and framing are what the ratio weighs.
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const pieces = piecesOf(plaintext, 65536);
  const raw = createCipheriv('aes-256-gcm', key, iv);
  const rawCiphertext = Buffer.concat([raw.update(plaintext), raw.final()]);
  const rawTag = raw.getAuthTag();
  const rawPieces = piecesOf(rawCiphertext, 65536);
  const rawChunks = piecesOf(rawCiphertext, CHUNK);
  const archive = await encryptBuffer(plaintext, kek);
  if (archive.length !== ciphertextSize(SIZE)) throw new Error('archive size');
  // The per-segment floor of node:crypto: a fresh GCM context for every 64 KiB, in a plain loop over the same
  // contiguous layout, output dropped; what separates it from `raw` is node:crypto's cost of a new cipher context
  // (key schedule, GHASH setup). The format's native cipher (native/gcm.h) keys one context per object and only
  // sets each segment's nonce, so it is not bound by this floor; the node:crypto fallback (`formatNode`) is.
  const segKey = createSecretKey(randomBytes(32));
  const aad = randomBytes(35);
  const nonce = Buffer.alloc(12);
  const nonceOf = (i: number, last: boolean) => {
    nonce.writeUInt32BE(i, 7);
    nonce[11] = last ? 1 : 0;
    return nonce;
  };
  const laidParts: Buffer[] = [];
  pieces.forEach((piece, i) => {
    const c = createCipheriv('aes-256-gcm', segKey, nonceOf(i, i === pieces.length - 1));
    c.setAAD(aad);
    laidParts.push(c.update(piece), c.final(), c.getAuthTag());
  });
  const laid = Buffer.concat(laidParts);
  const perSegmentEncrypt = () => {
    pieces.forEach((piece, i) => {
      const c = createCipheriv('aes-256-gcm', segKey, nonceOf(i, i === pieces.length - 1));
      c.setAAD(aad);
      c.update(piece);
      c.final();
      c.getAuthTag();
    });
  };
  const perSegmentDecrypt = () => {
    for (let i = 0; i < pieces.length; i++) {
      const s = laid.subarray(i * SEGMENT_STORED_SIZE, Math.min(laid.length, (i + 1) * SEGMENT_STORED_SIZE));
      const d = createDecipheriv('aes-256-gcm', segKey, nonceOf(i, i === pieces.length - 1));
      d.setAAD(aad);
      d.setAuthTag(s.subarray(s.length - 16));
      d.update(s.subarray(0, s.length - 16));
      d.final();
    }
  };

  const formatEncrypt = async (gcm?: 'node') => {
    const e = await createEncryptor(kek, { gcm });
    let n = e.header.length;
    for (const chunk of chunks) for (const b of e.update(chunk)) n += b.length;
    for (const b of e.final()) n += b.length;
    if (n !== archive.length) throw new Error(`encrypt gave ${n} bytes`);
  };
  const formatDecrypt = async (gcm?: 'node') => {
    const reader = await ArchiveReader.open(bufferSource(archive), kek, { gcm });
    let n = 0;
    for await (const batch of reader.batches()) for (const b of batch) n += b.length;
    if (n !== SIZE) throw new Error(`decrypt gave ${n} bytes`);
  };
  // The same through Node streams, against raw GCM used as a stream between the same source and sink.
  const through = async (source: Readable, transform: NodeJS.ReadWriteStream, bytes: number) => {
    const sink = nullSink();
    await pipeline(source, transform, sink);
    if (sink.bytes !== bytes) throw new Error(`wrote ${sink.bytes} bytes, expected ${bytes}`);
  };
  const encrypt = await rounds(
    {
      raw: () => {
        const c = createCipheriv('aes-256-gcm', key, iv);
        for (const piece of pieces) c.update(piece);
        c.final();
      },
      format: () => formatEncrypt(),
      formatNode: () => formatEncrypt('node'),
      perSegment: perSegmentEncrypt,
      rawStream: () => through(Readable.from(chunks), createCipheriv('aes-256-gcm', key, iv), SIZE),
      formatStream: () => through(Readable.from(chunks), encryptStream(kek), archive.length),
    },
    ROUNDS,
    progress,
    'encrypt',
  );
  const decrypt = await rounds(
    {
      raw: () => {
        const d = createDecipheriv('aes-256-gcm', key, iv);
        d.setAuthTag(rawTag);
        for (const piece of rawPieces) d.update(piece);
        d.final();
      },
      format: () => formatDecrypt(),
      formatNode: () => formatDecrypt('node'),
      perSegment: perSegmentDecrypt,
      rawStream: () => {
        const d = createDecipheriv('aes-256-gcm', key, iv);
        d.setAuthTag(rawTag);
        return through(Readable.from(rawChunks), d, SIZE);
      },
      formatStream: async () => {
        const reader = await ArchiveReader.open(bufferSource(archive), kek);
        const sink = nullSink();
        await pipeline(reader.stream(), sink);
        if (sink.bytes !== SIZE) throw new Error(`format decrypt gave ${sink.bytes} bytes`);
      },
    },
    ROUNDS,
    progress,
    'decrypt',
  );

  const dir = mkdtempSync(join(tmpdir(), 'guardian-bench-archive-'));
  try {
    // File to file, as `guardian archive encrypt|decrypt` and the edge do (page cache, fsync included; encrypt
    // also hashes the archive with SHA-256 for the upload).
    progress('archive: files');
    const plainFile = join(dir, 'clip.bin');
    const archiveFile = join(dir, 'clip.bin.gdna');
    writeFileSync(plainFile, plaintext);
    const files = await rounds(
      {
        encryptFile: () => encryptFile(plainFile, archiveFile, kek),
        decryptFile: () => decryptFile(archiveFile, join(dir, 'out.bin'), kek),
      },
      FILE_ROUNDS,
      progress,
      'files',
    );
    if (statSync(join(dir, 'out.bin')).size !== SIZE) throw new Error('decryptFile size');

    // Random 1 MB ranges of the 50 MB archive file (in the page cache, as a recent archive is), wall time.
    progress('archive: random 1 MB ranges');
    const rangeMs: number[] = [];
    const segmentsPerRange: number[] = [];
    const source = await openFileSource(archiveFile);
    try {
      const reader = await ArchiveReader.open(source, kek);
      for (let i = 0; i < RANGES; i++) {
        const start = Math.floor(Math.random() * (SIZE - RANGE));
        const t0 = performance.now();
        const got = await reader.read(start, start + RANGE - 1);
        rangeMs.push(performance.now() - t0);
        if (!got.equals(plaintext.subarray(start, start + RANGE))) throw new Error(`range ${start} differs`);
        segmentsPerRange.push(reader.ciphertextRange(start, start + RANGE - 1).length / SEGMENT_STORED_SIZE);
      }
    } finally {
      await source.close();
    }

    // What archiving costs: CPU per byte of encryptFile (read, encrypt, hash, write, fsync) times a camera's bytes
    // per second, i.e. the cores spent if every recorded second were archived (events are a part of that).
    const fileCpuSPerByte = median(files.encryptFile as number[]) / SIZE;
    const cpuSPerByte = median(encrypt.format as number[]) / SIZE;
    return {
      bytes: SIZE,
      rounds: ROUNDS,
      /** The segment cipher `format` ran on: the addon's (native) or node:crypto (and why). */
      gcm: gcmEngine(),
      kdf: { ...DEFAULT_KDF, ms: kdfMs.map((x) => Math.round(x)) },
      encryptMBpsCpu: mbps(encrypt),
      decryptMBpsCpu: mbps(decrypt),
      /** Format / raw GCM, CPU time, median of the rounds' ratios; target >= 0.8. */
      encryptRatio: ratio(encrypt, 'format', 'raw'),
      decryptRatio: ratio(decrypt, 'format', 'raw'),
      encryptRatioP10P90: ratioSpread(encrypt, 'format', 'raw'),
      decryptRatioP10P90: ratioSpread(decrypt, 'format', 'raw'),
      /** A fresh GCM context per 64 KiB segment in a plain loop / raw: node:crypto's per-context cost, the floor. */
      perSegmentRatio: {
        encrypt: ratio(encrypt, 'perSegment', 'raw'),
        decrypt: ratio(decrypt, 'perSegment', 'raw'),
      },
      /** Format / that floor (above 1: the native cipher does not pay for a context per segment). */
      formatVsPerSegment: {
        encrypt: ratio(encrypt, 'format', 'perSegment'),
        decrypt: ratio(decrypt, 'format', 'perSegment'),
      },
      /** The format on its node:crypto fallback (no native addon) / raw. */
      fallbackRatio: {
        encrypt: ratio(encrypt, 'formatNode', 'raw'),
        decrypt: ratio(decrypt, 'formatNode', 'raw'),
      },
      /** Both as Node streams between the same source and sink. */
      encryptStreamRatio: ratio(encrypt, 'formatStream', 'rawStream'),
      decryptStreamRatio: ratio(decrypt, 'formatStream', 'rawStream'),
      filesMBpsCpu: mbps(files),
      rangeMs: {
        p50: round(pct(rangeMs, 50)),
        p95: round(pct(rangeMs, 95)),
        max: round(Math.max(...rangeMs)),
        segments: [Math.min(...segmentsPerRange), Math.max(...segmentsPerRange)].map(Math.ceil),
      },
      camera1080p: {
        bytesPerSecond: CAMERA_BYTES_PER_S,
        encryptCpuSecondsPerGB: round(cpuSPerByte * 1e9, 3),
        encryptFileCpuSecondsPerGB: round(fileCpuSPerByte * 1e9, 3),
        /** Cores to archive all of a camera's footage as fast as it is recorded, file to file. */
        coresPerCamera: round(fileCpuSPerByte * CAMERA_BYTES_PER_S, 5),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
