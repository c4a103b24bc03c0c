// Issue #20's fault suite: ENOSPC on the database path. The whole data dir (database, recordings, snapshots) sits on
// a small tmpfs with a live camera; a filler takes every free byte. The edge must stay up: reads answer, writes say
// DISK_FULL (507) rather than 500, the camera's frames and events do not crash the main process, nothing written
// before is lost, and when space comes back it writes again on its own.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { type Edge, startEdge } from '../../src/edge/runtime.ts';
import { validateConfig } from '../../src/shared/config.ts';
import { createLogger } from '../../src/shared/log.ts';
import { isRoot, media, tempDir } from '../helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes 1 MiB pieces until the filesystem refuses, then 4 KiB ones: the disk is full to the last block. */
function fill(dir: string): void {
  const big = Buffer.alloc(1 << 20, 1);
  const small = Buffer.alloc(4096, 1);
  for (const [buf, name] of [
    [big, 'big'],
    [small, 'small'],
  ] as const) {
    for (let i = 0; ; i++) {
      try {
        writeFileSync(join(dir, `${name}-${i}`), buf);
      } catch {
        break;
      }
    }
  }
}

describe('disk full on the database path (#20 fault suite)', function () {
  this.timeout(180_000);
  const dir = tempDir('guardian-disk-full-');
  const mnt = join(dir.path, 'small');
  let edge: Edge | undefined;
  let mounted = false;

  before(function () {
    if (!isRoot) {
      console.log('      skipped: mounting a tmpfs needs root (CI runs as root)');
      this.skip();
    }
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mnt]);
    mounted = true;
  });
  after(async () => {
    await edge?.stop().catch(() => undefined);
    if (mounted) execFileSync('umount', ['-l', mnt]);
    dir.remove();
  });

  it('stays up, answers reads, says DISK_FULL for writes, loses nothing, and writes again once there is room', async () => {
    const dataDir = join(mnt, 'data');
    edge = await startEdge(
      validateConfig({
        dataDir,
        http: { host: '127.0.0.1', port: 0 },
        recording: { minFreeBytes: 0, minFreeMinutes: 0 },
      }),
      { log: createLogger({ level: 'silent' }) },
    );
    const auth = { authorization: `Bearer ${edge.ctx.auth.createApiToken('t').token}` };
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${edge?.url}${path}`, {
        method,
        headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    const added = await call('POST', '/api/cameras', {
      id: 'street',
      name: 'Street',
      kind: 'file',
      recordUrl: media.vtest,
      detectFps: 5,
    });
    assert.equal(added.status, 201, await added.text());
    // Some events first: what must survive.
    let before: { id: string }[] = [];
    for (let i = 0; i < 120 && before.length < 2; i++) {
      await sleep(500);
      before = ((await (await call('GET', '/api/events')).json()) as { events: { id: string }[] }).events;
    }
    assert.ok(before.length >= 2, `${before.length} events before the disk filled`);

    const filler = join(mnt, 'filler');
    mkdirSync(filler);
    fill(filler);
    // The camera keeps sending frames and detections for a while with nowhere to write.
    await sleep(8000);
    const status = await call('GET', '/api/status');
    assert.equal(status.status, 200, 'reads answer');
    const events = ((await (await call('GET', '/api/events?limit=500')).json()) as { events: { id: string }[] }).events;
    for (const e of before)
      assert.ok(
        events.some((x) => x.id === e.id),
        `event ${e.id} kept`,
      );
    // A write into the database: refused with what is wrong, not a 500.
    const protect = await call('POST', `/api/events/${before[0]?.id}/protect`, { protected: true });
    const text = await protect.text();
    assert.equal(protect.status, 507, text);
    assert.match(text, /DISK_FULL/);
    assert.ok(edge.ctx.media.ready, 'the media process is still running');

    // Room again: everything resumes by itself.
    rmSync(filler, { recursive: true, force: true });
    let after = events.length;
    for (let i = 0; i < 120 && after <= events.length; i++) {
      await sleep(500);
      after = ((await (await call('GET', '/api/events?limit=500')).json()) as { events: unknown[] }).events.length;
    }
    assert.ok(after > events.length, `new events once there is room (${events.length} -> ${after})`);
    const again = await call('POST', `/api/events/${before[0]?.id}/protect`, { protected: true });
    assert.equal(again.status, 200);
  });
});
