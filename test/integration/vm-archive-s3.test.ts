// The VM's archive on a real S3 server: versitygw (installed into .vendor/bin by `npm run setup`) with its posix
// backend in a temporary directory on a free loopback port, credentials given by environment variables. Uploads go
// through a real gRPC link; the objects are checked in S3 and in versitygw's own files.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import * as grpc from '@grpc/grpc-js';

import type { ArchiveChunk } from '../../src/shared/link/generated/guardian/edge/v1/ArchiveChunk.ts';
import { createLogger } from '../../src/shared/log.ts';
import { projectRoot } from '../../src/shared/paths.ts';
import { validateVmConfig } from '../../src/vm/config.ts';
import { startVm, type Vm } from '../../src/vm/runtime.ts';
import { tempDir } from '../helpers.ts';
import { apiGet, freePort, random, sha256, TestEdge, until } from '../support/vm_archive.ts';

const log = createLogger({ level: 'silent' });
const MiB = 1024 * 1024;
const versitygw = join(projectRoot, '.vendor', 'bin', 'versitygw');
const accessKeyId = 'guardian-test';
const secretAccessKey = 'guardian-test-secret-0123456789';

describe('VM archive: the S3 store against versitygw', function () {
  this.timeout(120_000);
  const dir = tempDir();
  const gwRoot = join(dir.path, 'gw');
  let gw: ChildProcess | undefined;
  let gwOutput = '';
  let endpoint = '';
  let s3: S3Client;
  let vm: Vm;
  let edge: TestEdge;
  const vmConfig = () =>
    validateVmConfig({
      dataDir: join(dir.path, 'vm'),
      http: { port: 0 },
      grpc: { port: 0, requireTunnel: false },
      wireguard: { enabled: false },
      archive: {
        store: 's3',
        s3: { endpoint, accessKeyId, secretAccessKeyFile: join(dir.path, 's3-secret'), forcePathStyle: true },
      },
    });
  const head = (bucket: string, key: string) =>
    s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
      () => true,
      () => false,
    );
  const uploadsOpen = async (bucket: string) =>
    (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads?.length ?? 0;

  before(async function () {
    if (!existsSync(versitygw)) {
      console.log(`      skipped: ${versitygw} is missing (npm run setup installs it when Go is available)`);
      this.skip();
    }
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    mkdirSync(gwRoot);
    gw = spawn(versitygw, ['--port', `127.0.0.1:${port}`, '--quiet', 'posix', gwRoot], {
      env: { ...process.env, ROOT_ACCESS_KEY: accessKeyId, ROOT_SECRET_KEY: secretAccessKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    gw.stdout?.on('data', (d: Buffer) => {
      gwOutput += d.toString();
    });
    gw.stderr?.on('data', (d: Buffer) => {
      gwOutput += d.toString();
    });
    await until(
      () =>
        fetch(endpoint).then(
          () => true,
          () => false,
        ),
      15_000,
      `versitygw to listen:\n${gwOutput}`,
    );
    s3 = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    writeFileSync(join(dir.path, 's3-secret'), `${secretAccessKey}\n`, { mode: 0o600 });
    vm = await startVm(vmConfig(), { log });
    edge = await TestEdge.pair(vm, join(dir.path, 'edge'), 'porch-box');
  });

  after(async () => {
    edge?.close();
    await vm?.stop();
    s3?.destroy();
    if (gw && gw.exitCode === null) {
      gw.kill('SIGTERM');
      await new Promise((r) => gw?.once('exit', r));
    }
    dir.remove();
  });

  it('with the SDK default CRC32 checksums versitygw refuses multipart completion; the store sends them only when required', async () => {
    // SDK >= 3.729 checksums every part (CRC32); AWS then wants each part's checksum in CompleteMultipartUpload, and
    // versitygw 1.7 answers that request with InvalidPart. The store (requestChecksumCalculation: WHEN_REQUIRED)
    // sends no checksums, which both accept: the 20 MB multipart upload below goes through.
    const sdkDefault = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
    });
    try {
      await sdkDefault.send(new CreateBucketCommand({ Bucket: 'checksum-probe' }));
      const { UploadId } = await sdkDefault.send(
        new CreateMultipartUploadCommand({ Bucket: 'checksum-probe', Key: 'k' }),
      );
      const part = await sdkDefault.send(
        new UploadPartCommand({ Bucket: 'checksum-probe', Key: 'k', UploadId, PartNumber: 1, Body: random(1000) }),
      );
      assert.ok(part.ChecksumCRC32, 'the SDK checksummed the part');
      await assert.rejects(
        sdkDefault.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'checksum-probe',
            Key: 'k',
            UploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag ?? '', ChecksumCRC32: part.ChecksumCRC32 }] },
          }),
        ),
        { name: 'InvalidPart' },
      );
    } finally {
      sdkDefault.destroy();
    }
  });

  it('stores a multipart object (20 MB) and a single-part one byte for byte in a camera bucket made on demand', async () => {
    const id = await edge.event('porch');
    const clip = random(20 * MiB + 333);
    const snapshot = random(200_000);
    assert.equal(await edge.upload({ eventId: id, cameraId: 'porch', kind: 'clip' }, clip), 'STORED');
    assert.equal(await edge.upload({ eventId: id, cameraId: 'porch', kind: 'snapshot' }, snapshot), 'STORED');
    for (const [file, bytes] of [
      ['clip.mp4', clip],
      ['snapshot.jpg', snapshot],
    ] as const) {
      const key = `events/${id}/${file}.gdna`;
      const got = await s3.send(new GetObjectCommand({ Bucket: 'camera-porch', Key: key }));
      const body = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
      assert.equal(sha256(body), sha256(bytes), key);
      // ...and on versitygw's disk: exactly the ciphertext sent, nothing decrypted or re-encoded.
      assert.ok(readFileSync(join(gwRoot, 'camera-porch', key)).equals(bytes), `${key} on disk`);
    }
    assert.equal(await uploadsOpen('camera-porch'), 0, 'no multipart upload left open');
    assert.equal(vm.archive.index.get(id, 'clip')?.bucket, 'camera-porch');
  });

  it('a replay is UNCHANGED; a wrong SHA-256 or an upload cut midway leaves no object and no open upload', async () => {
    const id = await edge.event('porch');
    const clip = random(12 * MiB);
    const header = { eventId: id, cameraId: 'porch', kind: 'clip' as const };
    const key = `events/${id}/clip.mp4.gdna`;
    await assert.rejects(edge.upload({ ...header, sha256: sha256(random(8)) }, clip), {
      code: grpc.status.DATA_LOSS,
    });
    assert.equal(await head('camera-porch', key), false, 'a wrong SHA-256: nothing visible');
    assert.equal(await uploadsOpen('camera-porch'), 0, 'and the multipart upload aborted');

    const cut = new Promise<grpc.ServiceError | null>((resolve) => {
      const call: grpc.ClientWritableStream<ArchiveChunk> = edge.client.Archive(edge.md, (err) => resolve(err));
      call.write({ header: { ...header, size: clip.length, sha256: sha256(clip), protected: false } });
      for (let at = 0; at < 10 * MiB; at += 256 * 1024) call.write({ data: clip.subarray(at, at + 256 * 1024) });
      // Once the first part is in S3 the edge goes away.
      void until(() => uploadsOpen('camera-porch').then((n) => n > 0), 10_000).then(() => call.cancel());
    });
    assert.equal((await cut)?.code, grpc.status.CANCELLED);
    await until(() => uploadsOpen('camera-porch').then((n) => n === 0), 10_000, 'the upload to be aborted');
    assert.equal(await head('camera-porch', key), false, 'cut: nothing visible');
    assert.equal(vm.archive.index.get(id, 'clip'), undefined);

    assert.equal(await edge.upload(header, clip), 'STORED');
    assert.equal(await edge.upload(header, clip), 'UNCHANGED');
    assert.equal(await head('camera-porch', key), true);
  });

  it('serves S3 objects with HTTP Range (206, 416)', async () => {
    const id = await edge.event('porch');
    const meta = random(123_456);
    assert.equal(await edge.upload({ eventId: id, cameraId: 'porch', kind: 'metadata' }, meta), 'STORED');
    const path = `/api/events/${id}/archive/metadata`;
    const part = await apiGet(vm, path, { Range: 'bytes=100-199' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${meta.length}`);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(meta.subarray(100, 200)));
    const tail = await apiGet(vm, path, { Range: 'bytes=123000-' });
    assert.equal(tail.status, 206);
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(meta.subarray(123000)));
    const past = await apiGet(vm, path, { Range: `bytes=${meta.length}-` });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${meta.length}`);
    const whole = await apiGet(vm, path);
    assert.equal(whole.status, 200);
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(meta));
  });

  it('quota eviction deletes from S3; a restarted VM aborts multipart uploads a crash left open', async () => {
    const t = Date.now() - 60_000;
    const old = await edge.event('garden', { startMs: t });
    const recent = await edge.event('garden', { startMs: t + 1000 });
    assert.equal(await edge.upload({ eventId: old, cameraId: 'garden', kind: 'clip' }, random(1_000_000)), 'STORED');
    assert.equal(await edge.upload({ eventId: recent, cameraId: 'garden', kind: 'clip' }, random(1_000_000)), 'STORED');
    const orphan = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'camera-garden', Key: 'events/x/clip.mp4.gdna' }),
    );
    assert.ok(orphan.UploadId);
    assert.equal(await uploadsOpen('camera-garden'), 1, 'as a VM killed mid-upload leaves it');

    await vm.stop();
    const config = vmConfig();
    vm = await startVm({ ...config, archive: { ...config.archive, quotaBytesPerCamera: 1_500_000 } }, { log });
    assert.equal(await uploadsOpen('camera-garden'), 0, 'aborted at start');
    await until(() => !vm.archive.index.get(old, 'clip'), 10_000, 'the start-up retention pass');
    assert.equal(await head('camera-garden', `events/${old}/clip.mp4.gdna`), false, 'the oldest went from S3');
    assert.equal(await head('camera-garden', `events/${recent}/clip.mp4.gdna`), true);
  });
});
