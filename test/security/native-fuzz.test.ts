// Issue #20's fault suite, native part: hostile inputs made from the real sample videos (truncated, byte-flipped,
// zeroed, boxes swapped and fields set to absurd values, a raw H.264 stream with damaged NAL units, MPEG-TS with
// corrupt packets, and an RTSP server answering with hostile SDP, RTSP and RTP) are fed through the media core's real
// entry points (probe, openSource with tensors, motion planes, snapshots and crops, the recorder, exportClip) in a
// child process running the AddressSanitizer + UndefinedBehaviorSanitizer build of the addon (build-sanitize/, made by
// `npm run build:native:sanitize`, cached by a hash stamp). Every input must end in frames or a GuardianError with a
// known code, within its timeout, with no sanitizer report. The counts are printed for the README's reliability
// figures. Seeded (GUARDIAN_FUZZ_SEED); GUARDIAN_FUZZ_ADDON runs another addon (e.g. one with a planted bug).
//
// FFmpeg itself is not instrumented: ASan sees what the addon does with FFmpeg's output (and every libc memory call
// FFmpeg makes, through its interceptors), not overflows inside FFmpeg's own loops.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { isAbsolute, join } from 'node:path';

import { projectRoot } from '../../src/shared/paths.ts';
import { execFileAsync, media, tempDir } from '../helpers.ts';
import type { FuzzJob, FuzzOp, FuzzResult } from '../support/native_fuzz_child.ts';

const SEED = Number(process.env.GUARDIAN_FUZZ_SEED ?? 20);
const FILE_TIMEOUT_MS = 20_000;
const RTSP_TIMEOUT_MS = 15_000;
const childScript = join(projectRoot, 'test', 'support', 'native_fuzz_child.ts');
const addonPath = process.env.GUARDIAN_FUZZ_ADDON ?? join(projectRoot, 'build-sanitize', 'Release', 'guardian.node');

// ---------------------------------------------------------------------------------------------------------------
// The sanitizer build and its runtime

/** Why the sanitizer build cannot run here, or undefined when it can. */
function sanitizerUnavailable(): string | undefined {
  if (process.env.GUARDIAN_FUZZ_ADDON) return existsSync(addonPath) ? undefined : `${addonPath} does not exist`;
  const cxx = process.env.CXX || 'c++';
  if (spawnSync(cxx, ['--version']).status !== 0) return `no C++ compiler (${cxx})`;
  const asan = spawnSync(cxx, ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  if (!isAbsolute(asan) || !existsSync(asan)) return `${cxx} has no AddressSanitizer runtime (libasan.so)`;
  if (spawnSync('ldd', ['--version']).status !== 0) return 'no ldd to find the sanitizer runtimes';
  return undefined;
}

/** The sanitizer runtimes the addon links, which must be loaded before anything else in the (uninstrumented) node. */
function sanitizerRuntimes(addon: string): string[] {
  const ldd = execFileSync('ldd', [addon], { encoding: 'utf8' });
  const libs = [...ldd.matchAll(/^\s*lib(?:asan|ubsan)\.so\S*\s+=>\s+(\S+)/gm)].map((m) => m[1] as string);
  assert.ok(
    libs.some((l) => l.includes('libasan')),
    `${addon} is not linked with AddressSanitizer:\n${ldd}`,
  );
  return libs;
}

function sanitizerEnv(addon: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GUARDIAN_NATIVE: addon,
    LD_PRELOAD: [...sanitizerRuntimes(addon), process.env.LD_PRELOAD].filter(Boolean).join(' '),
    // Node frees nothing at exit by design: leak reports would be noise. Huge allocations asked for by a lying
    // sample table fail (OUT_OF_MEMORY) rather than abort; a smaller quarantine keeps 1080p decoding quick.
    ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1:quarantine_size_mb=32',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
  };
}

const SANITIZER_REPORT = /ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|AddressSanitizer:DEADLYSIGNAL/;

// ---------------------------------------------------------------------------------------------------------------
// Seeded mutations

function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Mutator {
  readonly random: () => number;
  constructor(seed: number) {
    this.random = prng(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo));
  }
  bytes(n: number): Buffer {
    return Buffer.from(Array.from({ length: n }, () => this.int(0, 256)));
  }
  /** count bytes in [from, to) XORed with a non-zero value. */
  flip(buf: Buffer, count: number, from = 0, to = buf.length): Buffer {
    const out = Buffer.from(buf);
    for (let i = 0; i < count; i++) {
      const at = this.int(from, Math.max(from + 1, to));
      if (at < out.length) out[at] = (out[at] as number) ^ this.int(1, 256);
    }
    return out;
  }
  zero(buf: Buffer, at: number, length: number): Buffer {
    const out = Buffer.from(buf);
    out.fill(0, at, Math.min(out.length, at + length));
    return out;
  }
}

function setU32(buf: Buffer, at: number, value: number): Buffer {
  const out = Buffer.from(buf);
  if (at + 4 <= out.length) out.writeUInt32BE(value >>> 0, at);
  return out;
}

function setU16(buf: Buffer, at: number, value: number): Buffer {
  const out = Buffer.from(buf);
  if (at + 2 <= out.length) out.writeUInt16BE(value & 0xffff, at);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// MP4 boxes

interface Box {
  type: string;
  start: number;
  size: number;
  header: number;
  parents: Box[];
}

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'edts', 'dinf', 'udta', 'mvex']);

function parseBoxes(buf: Buffer, start = 0, end = buf.length, parents: Box[] = []): Box[] {
  const out: Box[] = [];
  for (let at = start; at + 8 <= end; ) {
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) size = end - at;
    if (size < header || at + size > end) break;
    const box: Box = { type, start: at, size, header, parents };
    out.push(box);
    const inner = [...parents, box];
    // stsd: version, flags and an entry count before its sample entries; avc1: 78 bytes of fields before avcC.
    const skip = CONTAINERS.has(type) ? 0 : type === 'stsd' ? 8 : type === 'avc1' ? 78 : -1;
    if (skip >= 0) out.push(...parseBoxes(buf, at + header + skip, at + size, inner));
    at += size;
  }
  return out;
}

function find(boxes: Box[], type: string): Box {
  const box = boxes.find((b) => b.type === type);
  assert.ok(box, `sample has no ${type} box`);
  return box;
}

/** The box inserted again right after itself, every enclosing box grown to match. */
function duplicateBox(buf: Buffer, box: Box): Buffer {
  const copy = buf.subarray(box.start, box.start + box.size);
  let out: Buffer = Buffer.concat([buf.subarray(0, box.start + box.size), copy, buf.subarray(box.start + box.size)]);
  for (const p of box.parents) out = setU32(out, p.start, p.size + box.size);
  return out;
}

/** Two sibling boxes exchanged (sizes kept right: the parent is unchanged, offsets into mdat are not). */
function swapBoxes(buf: Buffer, a: Box, b: Box): Buffer {
  const [x, y] = a.start < b.start ? [a, b] : [b, a];
  return Buffer.concat([
    buf.subarray(0, x.start),
    buf.subarray(y.start, y.start + y.size),
    buf.subarray(x.start + x.size, y.start),
    buf.subarray(x.start, x.start + x.size),
    buf.subarray(y.start + y.size),
  ]);
}

function renameBox(buf: Buffer, box: Box, type: string): Buffer {
  const out = Buffer.from(buf);
  out.write(type, box.start + 4, 'latin1');
  return out;
}

type Input = { name: string; data: Buffer; ext: string };

function mp4Inputs(tag: string, buf: Buffer, m: Mutator, targeted: boolean): Input[] {
  const boxes = parseBoxes(buf);
  const moov = find(boxes, 'moov');
  const mdat = find(boxes, 'mdat');
  const moovEnd = moov.start + moov.size;
  const mdatEnd = mdat.start + mdat.size;
  const out: Input[] = [];
  const add = (name: string, data: Buffer) => out.push({ name: `${tag}/${name}`, data, ext: 'mp4' });

  // Truncated: nothing, inside the header, inside moov, header only, inside mdat.
  const cuts: [string, number][] = [
    ['empty', 0],
    ['1-byte', 1],
    ['7-bytes', 7],
    ['ftyp-only', find(boxes, 'ftyp').size],
    ['moov-header', moov.start + 8],
    ...[0.1, 0.3, 0.5, 0.7, 0.9].map((f): [string, number] => [`moov-${f}`, moov.start + Math.floor(moov.size * f)]),
    ['moov-minus-1', moovEnd - 1],
    ['moov-end', moovEnd],
    ['mdat-header', mdat.start + 8],
    ...[0.001, 0.05, 0.3, 0.6, 0.95].map((f): [string, number] => [
      `mdat-${f}`,
      mdat.start + Math.floor(mdat.size * f),
    ]),
    ['minus-1', buf.length - 1],
  ];
  for (const [name, at] of cuts) add(`truncated-${name}`, buf.subarray(0, at));

  // Byte flips: anywhere, in the index, in the media data.
  for (const n of [1, 8, 64, 512]) add(`flip-${n}`, m.flip(buf, n));
  for (const n of [1, 1, 2, 4, 8, 32]) add(`flip-moov-${n}`, m.flip(buf, n, moov.start + 8, moovEnd));
  for (const n of [4, 64]) add(`flip-mdat-${n}`, m.flip(buf, n, mdat.start + 8, mdatEnd));

  // Zeroed ranges.
  for (const len of [16, 256, 4096, 65536]) add(`zero-${len}`, m.zero(buf, m.int(0, buf.length), len));
  for (const len of [8, 64, 512]) add(`zero-moov-${len}`, m.zero(buf, m.int(moov.start, moovEnd), len));

  // Boxes moved, repeated, renamed.
  const ftyp = find(boxes, 'ftyp');
  add('swap-ftyp-moov', swapBoxes(buf, ftyp, moov));
  add('swap-moov-mdat', swapBoxes(buf, moov, mdat));
  add('moov-twice', duplicateBox(buf, moov));
  add('trak-twice', duplicateBox(buf, find(boxes, 'trak')));
  if (!targeted) return out;

  add('stbl-twice', duplicateBox(buf, find(boxes, 'stbl')));
  add('swap-stsz-stco', swapBoxes(buf, find(boxes, 'stsz'), find(boxes, 'stco')));
  add('swap-stts-stsc', swapBoxes(buf, find(boxes, 'stts'), find(boxes, 'stsc')));
  add('avc1-as-hvc1', renameBox(buf, find(boxes, 'avc1'), 'hvc1'));
  add('avc1-as-mp4v', renameBox(buf, find(boxes, 'avc1'), 'mp4v'));
  add('avcC-as-hvcC', renameBox(buf, find(boxes, 'avcC'), 'hvcC'));
  add('stco-as-co64', renameBox(buf, find(boxes, 'stco'), 'co64'));

  // Sizes that lie.
  for (const type of ['moov', 'trak', 'stbl', 'stsd', 'avcC', 'stsz', 'mdat']) {
    const b = find(boxes, type);
    add(`${type}-size-max`, setU32(buf, b.start, 0xffffffff));
    add(`${type}-size-7`, setU32(buf, b.start, 7));
    add(`${type}-size-0`, setU32(buf, b.start, 0));
    if (type !== 'mdat') add(`${type}-size-1`, setU32(buf, b.start, 1)); // a 64-bit size read from the payload
  }

  // Entry counts and fields set to absurd values: the sample tables, the time scales, the decoder configuration.
  const at = (type: string, offset: number) => find(boxes, type).start + 8 + offset;
  for (const [type, offset] of [
    ['stts', 4],
    ['stsc', 4],
    ['stco', 4],
    ['stss', 4],
    ['stsz', 8],
    ['ctts', 4],
    ['elst', 4],
    ['stsd', 4],
  ] as const) {
    if (!boxes.some((b) => b.type === type)) continue;
    for (const v of [0, 0xffffffff, 0x40000000])
      add(`${type}-count-${v.toString(16)}`, setU32(buf, at(type, offset), v));
  }
  add('stsz-sample-size-huge', setU32(buf, at('stsz', 4), 0x7fffffff));
  add('stsz-first-size-huge', setU32(buf, at('stsz', 12), 0xfffffff0));
  add('stco-first-offset-past-end', setU32(buf, at('stco', 8), 0xfffffff0));
  add('stsc-first-chunk-0', setU32(buf, at('stsc', 8), 0));
  add('stsc-samples-per-chunk-huge', setU32(buf, at('stsc', 12), 0xffffffff));
  add('stts-delta-huge', setU32(buf, at('stts', 12), 0xffffffff));
  add('stts-delta-0', setU32(buf, at('stts', 12), 0));
  if (boxes.some((b) => b.type === 'ctts')) add('ctts-offset-min', setU32(buf, at('ctts', 12), 0x80000000));
  if (boxes.some((b) => b.type === 'elst')) {
    add('elst-media-time-huge', setU32(buf, at('elst', 12), 0x7fffffff));
    add('elst-duration-huge', setU32(buf, at('elst', 8), 0xffffffff));
  }
  // mdhd/mvhd version 0: creation, modification, then the time scale and the duration.
  for (const type of ['mdhd', 'mvhd']) {
    for (const v of [0, 1, 0xffffffff]) add(`${type}-timescale-${v.toString(16)}`, setU32(buf, at(type, 12), v));
    add(`${type}-duration-max`, setU32(buf, at(type, 16), 0xffffffff));
    add(`${type}-version-1`, setU32(buf, at(type, 0), 0x01000000)); // 64-bit fields read from 32-bit ones
  }
  add('tkhd-size-huge', setU32(setU32(buf, at('tkhd', 76), 0xffff0000), at('tkhd', 80), 0xffff0000));
  // avc1: width and height at 24/26 after its 8-byte header; avcC: version, profile, compat, level, length size, SPS.
  const avc1 = find(boxes, 'avc1').start + 8;
  add('avc1-size-0', setU16(setU16(buf, avc1 + 24, 0), avc1 + 26, 0));
  add('avc1-size-max', setU16(setU16(buf, avc1 + 24, 0xffff), avc1 + 26, 0xffff));
  const avcC = find(boxes, 'avcC').start + 8;
  for (const lengthSize of [0, 1, 2]) {
    const out2 = Buffer.from(buf);
    out2[avcC + 4] = 0xfc | lengthSize; // NAL length size 1, 2 or 3 bytes instead of 4
    add(`avcC-nal-length-${lengthSize + 1}`, out2);
  }
  const spsCount = Buffer.from(buf);
  spsCount[avcC + 5] = 0xff; // 31 SPS
  add('avcC-31-sps', spsCount);
  add('avcC-sps-length-max', setU16(buf, avcC + 6, 0xffff));
  const spsLength = buf.readUInt16BE(avcC + 6);
  for (let i = 0; i < 6; i++) add(`avcC-sps-flip-${i}`, m.flip(buf, 1 + (i % 3), avcC + 9, avcC + 8 + spsLength));
  add('avcC-pps-length-max', setU16(buf, avcC + 8 + spsLength + 1, 0xffff));
  const hdlr = find(boxes, 'hdlr').start + 8;
  const sound = Buffer.from(buf);
  sound.write('soun', hdlr + 8, 'latin1');
  add('hdlr-soun', sound);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// H.264 Annex-B and MPEG-TS

/** Offsets of the NAL units of an Annex-B stream (after their start codes). */
function nalOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 3 <= buf.length; i++)
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      out.push(i + 3);
      i += 2;
    }
  return out;
}

function nalUnits(buf: Buffer): Buffer[] {
  const starts = nalOffsets(buf);
  return starts.map((s, i) => {
    let end = i + 1 < starts.length ? (starts[i + 1] as number) - 3 : buf.length;
    while (end > s && buf[end - 1] === 0) end--; // the 4-byte start code's leading zero
    return buf.subarray(s, end);
  });
}

function h264Inputs(tag: string, buf: Buffer, m: Mutator): Input[] {
  const out: Input[] = [];
  const add = (name: string, data: Buffer) => out.push({ name: `${tag}/${name}`, data, ext: 'h264' });
  const nals = nalOffsets(buf);
  const ofType = (t: number) => nals.filter((o) => ((buf[o] as number) & 0x1f) === t);
  const sps = ofType(7)[0] as number;
  const pps = ofType(8)[0] as number;
  const idr = ofType(5)[0] as number;
  for (const at of [0, 4, 10, 30, 100, pps, idr, idr + 20, ...[0.01, 0.1, 0.5, 0.9].map((f) => buf.length * f)])
    add(`truncated-${Math.floor(at)}`, buf.subarray(0, Math.floor(at)));
  for (let i = 0; i < 8; i++) add(`sps-flip-${i}`, m.flip(buf, 1 + (i % 4), sps + 1, pps - 3));
  for (let i = 0; i < 4; i++) add(`pps-flip-${i}`, m.flip(buf, 1 + (i % 2), pps + 1, idr - 3));
  for (let i = 0; i < 6; i++) add(`slice-header-flip-${i}`, m.flip(buf, 1, idr + 1, idr + 8));
  // One byte after many start codes: NAL headers and slice headers all through the stream.
  for (const n of [4, 16, 64]) {
    let b = buf;
    for (let i = 0; i < n; i++) {
      const o = nals[m.int(0, nals.length)] as number;
      b = m.flip(b, 1, o, o + 4);
    }
    add(`nal-starts-flip-${n}`, b);
  }
  for (const n of [8, 128, 2048]) add(`flip-${n}`, m.flip(buf, n));
  for (const len of [64, 4096]) add(`zero-${len}`, m.zero(buf, m.int(idr, buf.length), len));
  // NAL types swapped: the SPS as reserved type 0 or 31, an IDR as a non-IDR slice, a slice parsed as an SPS.
  const retype = (at: number, type: number) => {
    const b = Buffer.from(buf);
    b[at] = ((b[at] as number) & 0xe0) | type;
    return b;
  };
  add('sps-as-type-0', retype(sps, 0));
  add('sps-as-type-31', retype(sps, 31));
  add('idr-as-slice', retype(idr, 1));
  add('slice-as-sps', retype(ofType(1)[0] as number, 7));
  add('slice-as-pps', retype(ofType(1)[0] as number, 8));
  // Start codes removed (NAL units run together) or added in the middle of a slice.
  const joined = Buffer.from(buf);
  for (const o of nals.slice(1, 6)) joined[o - 1] = 2;
  add('start-codes-removed', joined);
  const split = Buffer.concat([buf.subarray(0, idr + 50), Buffer.from([0, 0, 1, 0x65]), buf.subarray(idr + 50)]);
  add('start-code-inside-idr', split);
  // A hostile SPS before the real one, and a stream of start codes with random NAL units.
  add('garbage-sps-first', Buffer.concat([Buffer.from([0, 0, 0, 1, 0x67]), m.bytes(40), buf]));
  add('sps-pps-then-random', Buffer.concat([buf.subarray(0, idr - 4), m.bytes(100_000)]));
  add(
    'random-nal-units',
    Buffer.concat(Array.from({ length: 200 }, () => Buffer.concat([Buffer.from([0, 0, 1]), m.bytes(m.int(1, 400))]))),
  );
  return out;
}

function tsInputs(tag: string, buf: Buffer, m: Mutator): Input[] {
  const out: Input[] = [];
  const add = (name: string, data: Buffer) => out.push({ name: `${tag}/${name}`, data, ext: 'ts' });
  const packets = buf.length / 188;
  assert.equal(buf.length % 188, 0, 'MPEG-TS of whole 188-byte packets');
  const perPacket = (fraction: number, edit: (p: Buffer) => void) => {
    const b = Buffer.from(buf);
    for (let i = 0; i < packets; i++) if (m.random() < fraction) edit(b.subarray(i * 188, i * 188 + 188));
    return b;
  };
  for (const at of [0, 100, 188, 188 * 3 + 50, buf.length / 2 + 77, buf.length - 1])
    add(`truncated-${Math.floor(at)}`, buf.subarray(0, Math.floor(at)));
  for (const f of [0.01, 0.1])
    add(
      `sync-byte-${f}`,
      perPacket(f, (p) => p.writeUInt8(m.int(0, 256), 0)),
    );
  for (const f of [0.01, 0.05, 0.3])
    add(
      `payload-random-${f}`,
      perPacket(f, (p) => m.bytes(184).copy(p, 4)),
    );
  for (const f of [0.02, 0.2]) {
    const kept: Buffer[] = [];
    for (let i = 0; i < packets; i++) if (m.random() >= f) kept.push(buf.subarray(i * 188, i * 188 + 188));
    add(`dropped-${f}`, Buffer.concat(kept));
  }
  add(
    'pid-random',
    perPacket(0.05, (p) => p.writeUInt16BE(((p.readUInt16BE(1) & 0xe000) | m.int(0, 0x2000)) >>> 0, 1)),
  );
  add(
    'continuity-scrambled',
    perPacket(0.2, (p) => p.writeUInt8(((p[3] as number) & 0xf0) | m.int(0, 16), 3)),
  );
  add(
    'adaptation-length-max',
    perPacket(0.05, (p) => {
      p[3] = ((p[3] as number) & 0xcf) | 0x30;
      p[4] = 0xff;
    }),
  );
  // PAT and PMT (the first packets) damaged; PES headers (and their timestamps) damaged.
  add('pat-pmt-random', Buffer.concat([m.flip(buf.subarray(0, 188 * 2), 40), buf.subarray(188 * 2)]));
  add(
    'pes-header-flip',
    perPacket(0.5, (p) => {
      if ((p[1] as number) & 0x40) p[m.int(4, 24)] = m.int(0, 256);
    }),
  );
  add('flip-256', m.flip(buf, 256));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// A hostile RTSP server

interface Scenario {
  /** Written as soon as the client connects (then the connection is closed). */
  onConnect?: () => Buffer;
  /** The answer to a request, or undefined for the default one; 'silence' answers nothing. */
  answer?: (method: string, cseq: string) => Buffer | string | 'silence' | undefined;
  sdp?: () => string;
  /** Interleaved data sent after the PLAY answer; the connection is then closed. */
  stream?: () => Buffer;
  ops?: FuzzOp[];
  /** The URL carries credentials (the digest challenge scenario). */
  credentials?: boolean;
}

function rtpHeader(seq: number, ts: number, marker: boolean, extra: Partial<{ pt: number; first: number }> = {}) {
  const h = Buffer.alloc(12);
  h[0] = extra.first ?? 0x80;
  h[1] = (marker ? 0x80 : 0) | (extra.pt ?? 96);
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(0x12345678, 8);
  return h;
}

function interleave(packets: Buffer[], channel = 0): Buffer {
  return Buffer.concat(
    packets.flatMap((p) => {
      const h = Buffer.from([0x24, channel, 0, 0]);
      h.writeUInt16BE(Math.min(p.length, 0xffff), 2);
      return [h, p];
    }),
  );
}

/** RTP payloads of an Annex-B stream (RFC 6184: single NAL units, FU-A above 1400 bytes), 10 fps. */
function packetize(nals: Buffer[]): { payloads: Buffer[]; ts: number[]; marker: boolean[] } {
  const payloads: Buffer[] = [];
  const ts: number[] = [];
  const marker: boolean[] = [];
  let t = 0;
  let prevVcl = false;
  for (const nal of nals) {
    if (nal.length === 0) continue;
    const type = (nal[0] as number) & 0x1f;
    const vcl = type === 1 || type === 5;
    if (prevVcl && (!vcl || ((nal[1] as number) & 0x80) !== 0)) t += 9000;
    prevVcl = vcl;
    if (nal.length <= 1400) {
      payloads.push(nal);
      ts.push(t);
      marker.push(vcl);
      continue;
    }
    const body = nal.subarray(1);
    for (let o = 0; o < body.length; o += 1400) {
      const first = o === 0;
      const last = o + 1400 >= body.length;
      const fu = Buffer.from([((nal[0] as number) & 0xe0) | 28, (first ? 0x80 : 0) | (last ? 0x40 : 0) | type]);
      payloads.push(Buffer.concat([fu, body.subarray(o, o + 1400)]));
      ts.push(t);
      marker.push(vcl && last);
    }
  }
  return { payloads, ts, marker };
}

function rtspScenarios(h264: Buffer, m: Mutator): Record<string, Scenario> {
  const nals = nalUnits(h264);
  const sps = nals.find((n) => ((n[0] as number) & 0x1f) === 7) as Buffer;
  const pps = nals.find((n) => ((n[0] as number) & 0x1f) === 8) as Buffer;
  const sprop = `${sps.toString('base64')},${pps.toString('base64')}`;
  const sdp = (media: string) => `v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=fuzz\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n${media}`;
  const h264Media = (fmtp = `packetization-mode=1;profile-level-id=64001f;sprop-parameter-sets=${sprop}`, n = 0) =>
    `m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 ${fmtp}\r\na=control:trackID=${n}\r\n`;
  const real = packetize(nals);
  const realPackets = (edit?: (p: Buffer, i: number) => Buffer) =>
    real.payloads.map((p, i) => {
      const pkt = Buffer.concat([rtpHeader(i, real.ts[i] as number, real.marker[i] as boolean), p]);
      return edit ? edit(pkt, i) : pkt;
    });
  const randomRtp = (n: number) =>
    Array.from({ length: n }, (_, i) => Buffer.concat([rtpHeader(i, i * 3000, i % 5 === 4), m.bytes(m.int(1, 1400))]));
  const fu = (indicator: number, header: number, body: Buffer) =>
    Buffer.concat([Buffer.from([indicator, header]), body]);
  const idr = nals.find((n) => ((n[0] as number) & 0x1f) === 5) as Buffer;

  const flipped = (fraction: number) => () =>
    interleave(realPackets((p) => (m.random() < fraction ? m.flip(p, m.int(1, 8), 12) : p)));
  return {
    'garbage-on-connect': { onConnect: () => m.bytes(4096), ops: ['open'] },
    'http-not-rtsp': { answer: () => 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', ops: ['open'] },
    'status-garbage': {
      answer: (_m, cseq) => `RTSP/1.0 99999999999999999999 ???\r\nCSeq: ${cseq}\r\n\r\n`,
      ops: ['open'],
    },
    'status-500': { answer: (_m, cseq) => `RTSP/1.0 500 Internal\r\nCSeq: ${cseq}\r\n\r\n`, ops: ['open'] },
    'cseq-mismatch': { answer: () => 'RTSP/1.0 200 OK\r\nCSeq: 4294967297\r\n\r\n', ops: ['open'] },
    'header-line-100k': {
      answer: (_m, cseq) => `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nX-Junk: ${'A'.repeat(100_000)}\r\n\r\n`,
      ops: ['open'],
    },
    'header-flood': {
      answer: (_m, cseq) => `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\n${'Public: DESCRIBE\r\n'.repeat(5000)}\r\n`,
      ops: ['open'],
    },
    'describe-length-overlong': {
      answer: (method, cseq) =>
        method === 'DESCRIBE'
          ? `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nContent-Type: application/sdp\r\nContent-Length: 65536\r\n\r\n${sdp(h264Media())}`
          : undefined,
      ops: ['open'],
    },
    'describe-length-negative': {
      answer: (method, cseq) =>
        method === 'DESCRIBE'
          ? `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nContent-Type: application/sdp\r\nContent-Length: -5\r\n\r\n${sdp(h264Media())}`
          : undefined,
      ops: ['open'],
    },
    'describe-digest-hostile': {
      credentials: true,
      answer: (method, cseq) =>
        method === 'DESCRIBE'
          ? `RTSP/1.0 401 Unauthorized\r\nCSeq: ${cseq}\r\nWWW-Authenticate: Digest realm="${'r'.repeat(3000)}", nonce="${'n'.repeat(5000)}", algorithm=MD5-sess, qop="auth-int,auth", opaque="\\"\r\n\r\n`
          : undefined,
      ops: ['open'],
    },
    'sdp-random': { sdp: () => m.bytes(3000).toString('latin1'), ops: ['probe', 'open'] },
    'sdp-sprop-random': {
      sdp: () =>
        sdp(
          h264Media(
            `packetization-mode=1;sprop-parameter-sets=${m.bytes(300).toString('base64')},${m.bytes(40).toString('base64')}`,
          ),
        ),
      stream: flipped(0),
      ops: ['probe', 'open'],
    },
    'sdp-sprop-not-base64': {
      sdp: () => sdp(h264Media('packetization-mode=1;sprop-parameter-sets=!!!!,====,,;profile-level-id=zzzzzz')),
      ops: ['probe', 'open'],
    },
    'sdp-sprop-huge': {
      sdp: () =>
        sdp(
          h264Media(`packetization-mode=1;sprop-parameter-sets=${Array(2000).fill(sps.toString('base64')).join(',')}`),
        ),
      ops: ['probe', 'open'],
    },
    'sdp-many-streams': {
      sdp: () => sdp(Array.from({ length: 40 }, (_, i) => h264Media(undefined, i)).join('')),
      stream: flipped(0),
      ops: ['open'],
    },
    'sdp-audio-only': {
      sdp: () => sdp('m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=control:trackID=0\r\n'),
      ops: ['probe', 'open'],
    },
    'sdp-clock-rate-0': {
      sdp: () => sdp(h264Media().replace('H264/90000', 'H264/0')),
      stream: flipped(0),
      ops: ['open', 'record'],
    },
    'sdp-unknown-codecs': {
      sdp: () =>
        sdp(
          'm=video 0 RTP/AVP 97\r\na=rtpmap:97 H265/90000\r\na=fmtp:97 sprop-vps=AAAA;sprop-sps=////;sprop-pps=\r\na=control:trackID=0\r\n' +
            'm=video 0 RTP/AVP 98\r\na=rtpmap:98 MP4V-ES/90000\r\na=fmtp:98 config=zz00ff\r\na=control:trackID=1\r\n' +
            'm=video 0 RTP/AVP 99\r\na=rtpmap:99 FOO/1\r\na=control:trackID=2\r\n',
        ),
      stream: () => interleave(randomRtp(50)),
      ops: ['probe', 'open'],
    },
    'sdp-absurd-attributes': {
      sdp: () =>
        sdp(
          `${h264Media()}a=framesize:96 65535-65535\r\na=x-dimensions:100000,100000\r\na=framerate:0\r\na=range:npt=-5-1e400\r\nb=AS:-1\r\n`,
        ),
      stream: flipped(0.05),
      ops: ['probe', 'open'],
    },
    'setup-transport-garbage': {
      answer: (method, cseq) =>
        method === 'SETUP'
          ? `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nSession: 1\r\nTransport: RTP/AVP/TCP;interleaved=300-301;ssrc=zz;mode=\r\n\r\n`
          : undefined,
      stream: flipped(0),
      ops: ['open'],
    },
    'rtp-random': { stream: () => interleave(randomRtp(300)), ops: ['open', 'record'] },
    'rtp-hostile-headers': {
      stream: () =>
        interleave([
          ...realPackets().slice(0, 10),
          rtpHeader(1, 0, false, { first: 0x8f }), // 15 CSRCs announced, none there
          Buffer.concat([rtpHeader(2, 0, false, { first: 0x90 }), Buffer.from([0xbe, 0xde, 0xff, 0xff])]), // extension past the end
          Buffer.concat([rtpHeader(3, 0, false, { first: 0xa0 }), Buffer.from([1, 2, 3, 0xff])]), // padding longer than the packet
          Buffer.concat([rtpHeader(4, 0, false, { first: 0x00 }), m.bytes(100)]), // version 0
          Buffer.concat([rtpHeader(5, 0, false, { pt: 127 }), m.bytes(100)]), // unknown payload type
          Buffer.alloc(0),
          Buffer.alloc(3),
          ...realPackets().slice(10, 40),
        ]),
      ops: ['open', 'record'],
    },
    'rtp-rtcp-garbage': {
      stream: () =>
        Buffer.concat([
          interleave(realPackets().slice(0, 20)),
          interleave([m.bytes(8), Buffer.from([0x80, 200, 0xff, 0xff]), m.bytes(400)], 1),
          interleave([m.bytes(200)], 7), // a channel that was never set up
          interleave(realPackets().slice(20)),
        ]),
      ops: ['open'],
    },
    'rtp-fragments-broken': {
      stream: () =>
        interleave(
          [
            ...realPackets().slice(0, 3),
            fu(0x7c, 0x45, idr.subarray(1, 600)), // FU-A start, never finished
            fu(0x7c, 0x45, idr.subarray(1, 600)), // another start
            fu(0x7c, 0x05, idr.subarray(600, 1200)), // a middle
            fu(0x7c, 0x40, Buffer.alloc(0)), // an empty end
            fu(0x7c, 0xc5, idr.subarray(1, 100)), // start and end at once
            fu(0x7c, 0x00, m.bytes(10)), // type 0
            fu(0x7c, 0x1f, m.bytes(10)), // type 31
            Buffer.from([0x7c]), // FU-A with no FU header
            Buffer.concat([Buffer.from([0x78, 0xff, 0xff]), m.bytes(20)]), // STAP-A whose NAL size runs past the end
            Buffer.concat([Buffer.from([0x78, 0x00, 0x00, 0x00, 0x00]), m.bytes(5)]), // STAP-A of empty NALs
            Buffer.concat([Buffer.from([0x79]), m.bytes(30)]), // STAP-B
            Buffer.concat([Buffer.from([0x7a]), m.bytes(30)]), // MTAP16
            Buffer.concat([Buffer.from([0x7d]), m.bytes(30)]), // FU-B
            Buffer.from([0x60]), // a NAL header alone
          ].map((p, i) => (i < 3 ? p : Buffer.concat([rtpHeader(100 + i, 9000 * i, i % 2 === 0), p]))),
        ),
      ops: ['open', 'record'],
    },
    'rtp-real': { stream: flipped(0), ops: ['open', 'record'] },
    'rtp-real-flip-2pc': { stream: flipped(0.02), ops: ['open', 'record'] },
    'rtp-real-flip-10pc': { stream: flipped(0.1), ops: ['open', 'record'] },
    'rtp-real-flip-50pc': { stream: flipped(0.5), ops: ['open'] },
    'rtp-real-dropped': {
      stream: () => interleave(realPackets().filter(() => m.random() > 0.1)),
      ops: ['open', 'record'],
    },
    'rtp-real-truncated-frame': {
      stream: () => {
        const all = interleave(realPackets());
        return all.subarray(0, Math.floor(all.length / 2) + 3);
      },
      ops: ['open'],
    },
    'rtp-real-then-junk': {
      stream: () => Buffer.concat([interleave(realPackets().slice(0, 30)), m.bytes(5000)]),
      ops: ['open'],
    },
    'rtp-timestamps-hostile': {
      stream: () =>
        interleave(
          realPackets((p, i) => {
            const q = Buffer.from(p);
            q.writeUInt32BE([0xffffff00 + i, 0, 0x7fffffff, m.int(0, 2 ** 32)][i % 4] as number, 4);
            q.writeUInt16BE(m.int(0, 65536), 2);
            return q;
          }),
        ),
      ops: ['open', 'record'],
    },
    'describe-silence': { answer: (method) => (method === 'DESCRIBE' ? 'silence' : undefined), ops: ['open'] },
    'play-silence': { stream: () => Buffer.alloc(0), answer: () => undefined, ops: ['open'] },
  };
}

/** Answers RTSP as a camera would, except where the scenario (the first path segment) says otherwise. */
async function startRtspServer(scenarios: Record<string, Scenario>): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    let scenario: Scenario | undefined;
    let playing = false;
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (buf[0] === 0x24) {
          // Interleaved RTCP from the client.
          if (buf.length < 4) return;
          const len = 4 + buf.readUInt16BE(2);
          if (buf.length < len) return;
          buf = buf.subarray(len);
          continue;
        }
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const length = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        buf = buf.subarray(end + 4 + length);
        const [method = '', url = ''] = head.split(' ');
        const cseq = /^cseq:\s*(\S+)/im.exec(head)?.[1] ?? '0';
        const name = /^rtsps?:\/\/[^/]+\/([^/?]+)/.exec(url)?.[1] ?? '';
        scenario ??= scenarios[name];
        if (!scenario) {
          sock.end(`RTSP/1.0 404 Not Found\r\nCSeq: ${cseq}\r\n\r\n`);
          return;
        }
        if (playing) continue; // keep-alives and TEARDOWN after the stream
        const custom = scenario.answer?.(method, cseq);
        if (custom === 'silence') return;
        if (custom !== undefined) {
          sock.write(custom);
          continue;
        }
        const base = `rtsp://127.0.0.1:${(server.address() as { port: number }).port}/${name}/`;
        if (method === 'OPTIONS')
          sock.write(
            `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n\r\n`,
          );
        else if (method === 'DESCRIBE') {
          const body = Buffer.from(
            scenario.sdp?.() ??
              'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=fuzz\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=0\r\n',
            'latin1',
          );
          sock.write(
            `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nContent-Base: ${base}\r\nContent-Type: application/sdp\r\nContent-Length: ${body.length}\r\n\r\n`,
          );
          sock.write(body);
        } else if (method === 'SETUP') {
          const transport = /^transport:\s*(.*)$/im.exec(head)?.[1] ?? 'RTP/AVP/TCP;unicast;interleaved=0-1';
          sock.write(
            `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nSession: 12345678;timeout=60\r\nTransport: ${transport}\r\n\r\n`,
          );
        } else if (method === 'PLAY') {
          sock.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nSession: 12345678\r\nRange: npt=0.000-\r\n\r\n`);
          playing = true;
          const data = scenario.stream?.();
          if (data === undefined) sock.end();
          else if (data.length > 0) sock.end(data);
          // An empty stream: PLAY answered, then nothing (a camera that stops sending).
        } else sock.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nSession: 12345678\r\n\r\n`);
      }
    });
  });
  // The scenario is only known from the first request's URL, so garbage-on-connect has its own port.
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  };
  return { server, port: (server.address() as { port: number }).port };
}

/** A server that writes its bytes to every connection and closes it. */
async function startBlurtServer(data: Buffer): Promise<{ server: Server; port: number }> {
  const server = createServer((sock) => {
    sock.on('error', () => {});
    sock.resume(); // read what the client sends, so that its close ends this socket too
    sock.end(data);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

// ---------------------------------------------------------------------------------------------------------------
// The child

interface ChildRun {
  results: FuzzResult[];
  code: number | null;
  signal: string | null;
  stderr: string;
  /** The input being run when the child died or stopped answering. */
  last?: string;
  hung?: string;
  /** CPU time of the child, all its threads. */
  cpuSeconds?: number;
}

function runChild(jobs: FuzzJob[], jobsFile: string, env: NodeJS.ProcessEnv): Promise<ChildRun> {
  writeFileSync(jobsFile, JSON.stringify(jobs));
  const timeoutOf = new Map(jobs.map((j) => [j.name, j.timeoutMs]));
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', childScript, jobsFile], {
      cwd: projectRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: ChildRun = { results: [], code: null, signal: null, stderr: '' };
    let startedAt = Date.now();
    let pending = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('FUZZ-START ')) {
          run.last = line.slice(11);
          startedAt = Date.now();
        } else if (line.startsWith('FUZZ-RESULT ')) {
          run.results.push(JSON.parse(line.slice(12)) as FuzzResult);
          run.last = undefined;
        } else if (line.startsWith('FUZZ-DONE ')) run.cpuSeconds = JSON.parse(line.slice(10)).cpuSeconds;
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      run.stderr += chunk;
    });
    // The child's own timeout covers a promise that never settles; this one a process that stops running JS.
    const watchdog = setInterval(() => {
      const limit = (run.last ? (timeoutOf.get(run.last) ?? FILE_TIMEOUT_MS) : 60_000) + 15_000;
      if (Date.now() - startedAt > limit) {
        run.hung = run.last ?? '(startup)';
        child.kill('SIGKILL');
      }
    }, 1000);
    child.on('exit', (code, signal) => {
      clearInterval(watchdog);
      run.code = code;
      run.signal = signal;
      resolve(run);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------

describe('native parsers under ASan and UBSan: corrupt and truncated MP4, H.264, MPEG-TS and RTSP', function () {
  this.timeout(15 * 60_000);
  const dir = tempDir('guardian-fuzz-');
  let env: NodeJS.ProcessEnv;
  const servers: Server[] = [];

  before(async function () {
    const reason = sanitizerUnavailable();
    if (reason) {
      console.log(`      native fuzz skipped: ${reason}`);
      this.skip();
    }
    // The cached build (a no-op when build-sanitize/ matches native/, CMakeLists.txt and the compiler).
    if (!process.env.GUARDIAN_FUZZ_ADDON)
      await execFileAsync(process.execPath, [join(projectRoot, 'scripts', 'setup.mjs'), '--sanitize-only', '--quiet'], {
        cwd: projectRoot,
        maxBuffer: 64 << 20,
      });
    env = sanitizerEnv(addonPath);
  });

  after(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    dir.remove();
  });

  it('the sanitizer runtime is active in the child and its reports are seen', async () => {
    // A one-byte heap overflow through ASan's memset (the interceptor every memset in the process goes to) in the
    // environment of the fuzz child: proves the preloaded runtime is active and that its report reaches the stderr
    // checked below. (Without the preload, loading libasan here would abort with another message.)
    const asan = sanitizerRuntimes(addonPath).find((l) => l.includes('libasan'));
    const probe = `const k = require('koffi'); const c = k.load(${JSON.stringify(asan)});
      const malloc = c.func('void *malloc(size_t)'), memset = c.func('void *memset(void *, int, size_t)');
      memset(malloc(8), 0, 9);`;
    const r = spawnSync(process.execPath, ['-e', probe], { cwd: projectRoot, env, encoding: 'utf8' });
    assert.match(r.stderr, /ERROR: AddressSanitizer: heap-buffer-overflow/, r.stderr);
    assert.notEqual(r.status, 0);
    // And the addon itself is instrumented.
    const symbols = execFileSync('nm', ['-D', '--undefined-only', addonPath], { encoding: 'utf8' });
    assert.match(symbols, /__asan_report_(load|store)/);
    assert.match(symbols, /__ubsan_handle_/);
  });

  it('every hostile input ends in frames or a GuardianError, with no sanitizer report', async () => {
    const m = new Mutator(SEED);
    // Material cut from the real samples by stream copy: short, so that each input decodes in a fraction of a second.
    const base = (name: string) => join(dir.path, name);
    const ff = (...args: string[]) => execFileAsync('ffmpeg', ['-v', 'error', '-y', ...args]);
    await ff('-i', media.vtest, '-t', '3', '-c', 'copy', '-movflags', '+faststart', base('a.mp4'));
    await ff('-i', media.vtest, '-t', '3', '-c', 'copy', base('a-moov-last.mp4'));
    await ff('-i', media.vtest1080, '-t', '1', '-c', 'copy', '-movflags', '+faststart', base('b.mp4'));
    await ff('-i', base('a.mp4'), '-c', 'copy', '-bsf:v', 'h264_mp4toannexb', '-f', 'h264', base('a.h264'));
    await ff('-i', base('b.mp4'), '-c', 'copy', '-bsf:v', 'h264_mp4toannexb', '-f', 'h264', base('b.h264'));
    await ff('-i', base('a.mp4'), '-c', 'copy', '-f', 'mpegts', base('a.ts'));
    const read = (name: string) => readFileSync(base(name));
    const vtest = readFileSync(media.vtest);
    const vtestMoov = find(parseBoxes(vtest), 'mdat').start;

    const inputs: Input[] = [
      ...mp4Inputs('vtest-3s', read('a.mp4'), m, true),
      ...mp4Inputs('vtest1080-1s', read('b.mp4'), m, false),
      ...mp4Inputs('vtest-3s-moov-last', read('a-moov-last.mp4'), m, false),
      // The whole sample cut inside its index and a little into its media data.
      ...[40, 200, 1000, 3000, vtestMoov, vtestMoov + 9, vtestMoov + 60_000].map((at) => ({
        name: `vtest-full/truncated-${at}`,
        data: vtest.subarray(0, at),
        ext: 'mp4',
      })),
      ...h264Inputs('vtest-annexb', read('a.h264'), m),
      ...h264Inputs('vtest1080-annexb', read('b.h264'), m).filter((_, i) => i % 2 === 0),
      ...tsInputs('vtest-ts', read('a.ts'), m),
      { name: 'junk/random-100k', data: m.bytes(100_000), ext: 'mp4' },
      { name: 'junk/zeros-100k', data: Buffer.alloc(100_000), ext: 'mp4' },
      {
        name: 'junk/ftyp-then-random',
        data: Buffer.concat([read('a.mp4').subarray(0, 32), m.bytes(50_000)]),
        ext: 'mp4',
      },
      {
        name: 'junk/ts-sync-then-random',
        data: Buffer.concat(Array.from({ length: 300 }, () => Buffer.concat([Buffer.from([0x47]), m.bytes(187)]))),
        ext: 'ts',
      },
    ];
    const jobs: FuzzJob[] = [];
    mkdirSync(join(dir.path, 'inputs'));
    inputs.forEach((input, i) => {
      const path = join(dir.path, 'inputs', `${i}.${input.ext}`);
      writeFileSync(path, input.data);
      // Looping (a file camera) on a third of them; clips of this input between clean segments, or alone.
      const ops: FuzzOp[] = ['probe', 'open', 'record', 'clip', ...(i % 3 === 0 ? (['loop'] as const) : [])];
      const clean = base('a.mp4');
      const clipInputs = [[path], [path, clean], [clean, path]][i % 3] as string[];
      for (const op of ops)
        jobs.push({
          ...(op === 'clip' ? { inputs: clipInputs } : {}),
          name: `${input.name} ${op}`,
          op,
          url: path,
          work: join(dir.path, 'work', String(jobs.length)),
          timeoutMs: FILE_TIMEOUT_MS,
        });
    });

    const scenarios = rtspScenarios(read('a.h264'), m);
    const rtsp = await startRtspServer(scenarios);
    servers.push(rtsp.server);
    for (const [name, s] of Object.entries(scenarios)) {
      let port = rtsp.port;
      if (s.onConnect) {
        const blurt = await startBlurtServer(s.onConnect());
        servers.push(blurt.server);
        port = blurt.port;
      }
      const url = `rtsp://${s.credentials ? 'fuzz:s3cret@' : ''}127.0.0.1:${port}/${name}`;
      for (const op of s.ops ?? ['open'])
        jobs.push({
          name: `rtsp/${name} ${op}`,
          op,
          url,
          work: join(dir.path, 'work', String(jobs.length)),
          timeoutMs: RTSP_TIMEOUT_MS,
        });
    }

    // GUARDIAN_FUZZ_FILTER (a regular expression on the names) runs some of them.
    const filter = process.env.GUARDIAN_FUZZ_FILTER ? new RegExp(process.env.GUARDIAN_FUZZ_FILTER) : undefined;
    if (filter) jobs.splice(0, jobs.length, ...jobs.filter((j) => filter.test(j.name)));
    const started = Date.now();
    const run = await runChild(jobs, join(dir.path, 'jobs.json'), env);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);

    if (process.env.GUARDIAN_FUZZ_RESULTS)
      writeFileSync(process.env.GUARDIAN_FUZZ_RESULTS, JSON.stringify(run.results));
    const counts = new Map<string, number>();
    for (const r of run.results) {
      const key = r.outcome === 'error' ? `error ${r.code}` : r.outcome;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const summary = [...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}: ${v}`);
    console.log(
      `      native fuzz (seed ${SEED}): ${inputs.length + Object.keys(scenarios).length} inputs, ${run.results.length} of ${jobs.length} runs in ${seconds} s (${run.cpuSeconds} s of CPU); ${summary.join(', ')}`,
    );

    const report = SANITIZER_REPORT.exec(run.stderr);
    assert.ok(
      !report,
      `sanitizer report while running ${run.last ?? 'an input'}:\n${run.stderr.slice(report?.index ?? 0).slice(0, 8000)}`,
    );
    assert.ok(!run.hung, `${run.hung} did not finish (the child stopped answering)`);
    assert.equal(
      run.code,
      0,
      `child exited ${run.code ?? run.signal} while running ${run.last}:\n${run.stderr.slice(-6000)}`,
    );
    assert.equal(run.results.length, jobs.length);
    // A recording may end with no segment and no error (nothing recordable: no keyframe with a timestamp, e.g. a raw
    // H.264 file); anything that decodes ends in frames or a GuardianError.
    const bad = run.results.filter(
      (r) => r.outcome === 'invalid' || r.outcome === 'hang' || (r.outcome === 'empty' && r.op !== 'record'),
    );
    assert.deepEqual(bad, [], 'every input ends in frames or a GuardianError with a known code, in time');
    // The baselines: the clean material and the well-behaved RTSP stream do give frames.
    if (filter) return;
    const framesOf = (name: string) => run.results.find((r) => r.name === name)?.outcome;
    assert.equal(framesOf('rtsp/rtp-real open'), 'frames');
    assert.equal(framesOf('rtsp/rtp-real record'), 'frames');
    assert.equal(framesOf('vtest-3s/truncated-minus-1 open'), 'frames');
  });
});
