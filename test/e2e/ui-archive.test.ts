// The archive in the web UI, in Debian's chromium (playwright-core) against `guardian demo` (its own server in the
// same process, the link on loopback): an event's badge goes from "archiving" to "archived"; then the box loses the
// event's recordings, its cached clip and its snapshot as a failed disk would (the files go, the index still names
// them), and the event page still shows the snapshot and plays and seeks the clip: the edge reads the encrypted copy
// back from its server and decrypts the segments the player asks for (X-Guardian-Source: archive).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';

import { decryptFile } from '../../src/shared/archive/format.ts';
import { artifacts, useUiDemo } from '../support/ui-demo.ts';

const PASSWORD = 'ui-archive-password-42';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ApiEvent {
  id: string;
  cameraId: string;
  startMs: number;
  endMs: number | null;
  clip: string | null;
  snapshot: string | null;
  thumbnail: string | null;
  archive: { clip?: string; snapshot?: string; metadata?: string };
}

describe('web UI in chromium: an archived clip plays after the box lost its recordings', function () {
  this.timeout(240_000);
  const ui = useUiDemo();
  let browser: Browser | undefined;
  let page: Page;
  let base: string;
  before(() => {
    ({ base, page, browser } = ui());
  });
  const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  const apiJson = <T>(path: string) =>
    page.evaluate(async (p) => {
      const res = await fetch(p);
      if (!res.ok) throw new Error(`${p}: ${res.status}`);
      return res.json();
    }, path) as Promise<T>;

  let event: ApiEvent;

  it('an ended event is archived, and the list and the event page say so', async () => {
    await page.goto(`${base}/`);
    await page.getByText('Choose the admin password').waitFor();
    await page.locator('input[name=setupCode]').fill(ui().setupCode());
    await page.locator('input[name=password]').fill(PASSWORD);
    await page.locator('input[name=again]').fill(PASSWORD);
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

    // The first ended event whose clip the server holds (the clip is cut after the post-roll, then encrypted and
    // uploaded; the demo's first person appears within seconds).
    let found: ApiEvent | undefined;
    for (let i = 0; i < 360 && !found; i++) {
      const { events } = await apiJson<{ events: ApiEvent[] }>('/api/events?limit=50');
      found = events.find(
        (e) => e.endMs && e.archive.clip === 'stored' && e.archive.snapshot === 'stored' && e.snapshot && e.clip,
      );
      if (!found) await sleep(500);
    }
    assert.ok(found, 'an event archived within three minutes');
    event = found;

    await page.goto(`${base}/#/events`);
    const row = page.locator(`a[href="#/events/${event.id}"]`);
    await row.getByTestId('archive-badge').filter({ hasText: 'archived' }).waitFor({ timeout: 20_000 });
    assert.match((await row.getByTestId('archive-badge').getAttribute('title')) ?? '', /your server/);
    await shot('events-archived');
    await row.click();
    await page.getByTestId('archive-badge').filter({ hasText: 'archived' }).waitFor();
    // With its recordings still here, the box serves its own copy.
    const local = await page.evaluate(
      async (id) =>
        (await fetch(`/api/events/${id}/clip.mp4`, { headers: { Range: 'bytes=0-99' } })).headers.get(
          'x-guardian-source',
        ),
      event.id,
    );
    assert.equal(local, 'local');
  });

  it('after the recordings, the clip and the snapshot are lost, the page plays and seeks the archived copy', async () => {
    assert.ok(event, 'runs after the archive test');
    // A failed disk: the segment files of the event, its cached clip, snapshot and thumbnail go; the index (guardian.db)
    // still lists the segments, so cutting the clip again fails.
    const db = new Database(join(ui().dataDir, 'guardian.db'), { readonly: true, fileMustExist: true });
    const margin = 60_000;
    const segments = db
      .prepare('SELECT path FROM segments WHERE camera_id = ? AND end_ms >= ? AND start_ms <= ?')
      .pluck()
      .all(event.cameraId, event.startMs - margin, (event.endMs ?? event.startMs) + margin) as string[];
    db.close();
    assert.ok(segments.length > 0, 'the event had recordings');
    for (const p of segments) rmSync(join(ui().dataDir, 'recordings', p));
    for (const f of [event.clip, event.snapshot, event.thumbnail])
      if (f) rmSync(join(ui().dataDir, f), { force: true });
    assert.equal(existsSync(join(ui().dataDir, event.clip as string)), false);

    // A fresh browser profile with the same session: nothing of the first look comes from its cache.
    const storageState = await page.context().storageState();
    await page.close();
    page = await (browser as Browser).newPage({ viewport: { width: 1280, height: 900 }, storageState });
    const clipUrl = `/api/events/${event.id}/clip.mp4`;
    const clipResponse = page.waitForResponse((r) => r.url().endsWith(clipUrl) && r.status() < 300, {
      timeout: 60_000,
    });
    const snapshotResponse = page.waitForResponse((r) => r.url().endsWith(`/api/events/${event.id}/snapshot.jpg`));
    await page.goto(`${base}/#/events/${event.id}`);
    const first = await clipResponse;
    assert.equal(first.headers()['x-guardian-source'], 'archive', 'the clip came from the archive');
    assert.equal(first.headers()['content-type'], 'video/mp4');
    assert.equal(first.headers()['accept-ranges'], 'bytes');
    const snap = await snapshotResponse;
    assert.equal(snap.status(), 200);
    assert.equal(snap.headers()['x-guardian-source'], 'archive', 'the snapshot came from the archive');
    await page.waitForFunction(
      () => ((document.querySelector('[data-testid=snapshot]') as HTMLImageElement | null)?.naturalWidth ?? 0) > 0,
    );

    // It plays...
    await page.waitForFunction(
      () => ((document.querySelector('[data-testid=clip]') as HTMLVideoElement | null)?.currentTime ?? 0) > 0.5,
      undefined,
      { timeout: 60_000 },
    );
    const video = page.getByTestId('clip');
    const duration = await video.evaluate((v: HTMLVideoElement) => v.duration);
    assert.ok(duration > 3, `clip duration ${duration}`);
    // ...and seeks: near the end, where only the last segments of the archive are fetched and decrypted.
    const seekTo = Math.max(0, duration - 1);
    const sources: string[] = [];
    page.on('response', (r) => {
      if (r.url().endsWith(clipUrl)) sources.push(r.headers()['x-guardian-source'] ?? 'none');
    });
    await video.evaluate((v: HTMLVideoElement, t: number) => {
      v.currentTime = t;
      void v.play();
    }, seekTo);
    await page.waitForFunction(
      (t) => {
        const v = document.querySelector('[data-testid=clip]') as HTMLVideoElement | null;
        return Boolean(v && !v.seeking && v.currentTime >= t - 0.5 && v.readyState >= 2);
      },
      seekTo,
      { timeout: 30_000 },
    );
    // ...and plays on from there to the end.
    await page.waitForFunction(
      (t) => {
        const v = document.querySelector('[data-testid=clip]') as HTMLVideoElement | null;
        return Boolean(v && (v.ended || v.currentTime > t + 0.3));
      },
      seekTo,
      { timeout: 30_000 },
    );
    const error = await video.evaluate((v: HTMLVideoElement) => v.error?.message ?? null);
    assert.equal(error, null, 'no media error');
    assert.ok(
      sources.every((s) => s === 'archive'),
      `every clip response from the archive: ${sources}`,
    );
    // The bytes are the clip's: the whole answer is the server's ciphertext decrypted with the owner's secret (an
    // independent path: the format's file decryption), and ranges anywhere (across a 64 KiB segment boundary, the
    // last bytes, where a seek near the end reads) are the same bytes.
    const vmUrl = /your server \(VM\): (http:\/\/127\.0\.0\.1:\d+)/.exec(ui().output())?.[1];
    const token = readFileSync(join(ui().dataDir, 'vm', 'api-token'), 'utf8').trim();
    const cipher = await fetch(`${vmUrl}/api/events/${event.id}/archive/clip`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(cipher.status, 200);
    writeFileSync(join(ui().dataDir, 'clip.gdna'), Buffer.from(await cipher.arrayBuffer()));
    await decryptFile(
      join(ui().dataDir, 'clip.gdna'),
      join(ui().dataDir, 'clip.mp4'),
      readFileSync(join(ui().dataDir, 'archive.secret'), 'utf8'),
    );
    const original = readFileSync(join(ui().dataDir, 'clip.mp4'));
    const served = async (range?: string) => {
      const r = await page.evaluate(
        async ([u, h]) => {
          const res = await fetch(u as string, h ? { headers: { Range: h } } : {});
          return {
            status: res.status,
            source: res.headers.get('x-guardian-source'),
            body: Array.from(new Uint8Array(await res.arrayBuffer())),
          };
        },
        [clipUrl, range],
      );
      return { ...r, body: Buffer.from(r.body) };
    };
    const whole = await served();
    assert.equal(whole.status, 200);
    assert.equal(whole.source, 'archive');
    assert.ok(whole.body.equals(original), 'the archived clip as served is the clip');
    const n = original.length;
    for (const [a, b] of [
      [65_000, 70_000],
      [n - 1000, n - 1],
      [Math.floor(n / 2), Math.floor(n / 2) + 65_536],
    ] as const) {
      const part = await served(`bytes=${a}-${b}`);
      assert.equal(part.status, 206);
      assert.ok(part.body.equals(original.subarray(a, b + 1)), `bytes ${a}-${b}`);
    }
    // A Range past the end is refused with the size, as for a local clip.
    const past = await page.evaluate(async (u) => {
      const r = await fetch(u, { headers: { Range: 'bytes=999999999-' } });
      return { status: r.status, range: r.headers.get('content-range'), source: r.headers.get('x-guardian-source') };
    }, clipUrl);
    assert.equal(past.status, 416);
    assert.match(past.range ?? '', /^bytes \*\/\d+$/);
    assert.equal(past.source, 'archive');
    // The box did not quietly make a local copy again: its recordings are gone.
    assert.equal(existsSync(join(ui().dataDir, event.clip as string)), false);
    await shot('event-archived-playback');
  });
});
