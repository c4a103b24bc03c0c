// The web UI in Debian's chromium (playwright-core) against `guardian demo`: first run, dashboard, live view,
// events with a playing clip, camera management, settings that persist. Screenshots go to artifacts/ui/.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { type Browser, chromium, type Page } from 'playwright-core';

import { projectRoot, sharedPath } from '../../src/shared/paths.ts';
import { tempDir } from '../helpers.ts';
import { freePort } from '../support/rtsp.ts';

const CHROMIUM = '/usr/bin/chromium';
const PASSWORD = 'ui-test-password-42';
const artifacts = join(projectRoot, 'artifacts', 'ui');

describe('web UI in chromium', function () {
  this.timeout(240_000);
  const dir = tempDir();
  let demo: ChildProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let base: string;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log('      skipped: Debian chromium is not installed (npm run setup installs it when run as root)');
      this.skip();
    }
    mkdirSync(artifacts, { recursive: true });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    demo = spawn(
      process.execPath,
      [
        join(projectRoot, 'bin', 'guardian.mjs'),
        'demo',
        '--data-dir',
        dir.path,
        '--port',
        String(port),
        '--first-run',
        '--no-open',
      ],
      { cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    demo.stdout?.on('data', (d) => {
      out += d;
    });
    for (let i = 0; i < 300 && !out.includes('is running'); i++) await new Promise((r) => setTimeout(r, 100));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });

  after(async () => {
    await browser?.close();
    demo?.kill('SIGTERM');
    if (demo && demo.exitCode === null) await new Promise((r) => demo?.once('exit', r));
    dir.remove();
  });

  const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

  it('first run sets the password, then the dashboard shows the demo camera online', async () => {
    await page.goto(`${base}/`);
    await page.getByText('Choose the admin password').waitFor();
    await shot('first-run');
    await page.locator('input[name=password]').fill(PASSWORD);
    await page.locator('input[name=again]').fill(PASSWORD);
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByTestId('camera-status-demo-street').filter({ hasText: 'online' }).waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('cameras-online').textContent(), '1 / 1');
    await shot('dashboard');
    // Log out and back in.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByText('Log in to see your cameras').waitFor();
    await page.locator('input[name=password]').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  });

  it('the live view shows an image that changes over time', async () => {
    await page.goto(`${base}/#/live`);
    const img = page.getByTestId('live-demo-street');
    await img.waitFor();
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid=live-demo-street]') as HTMLImageElement | null;
      return Boolean(el && el.naturalWidth > 0);
    });
    const a = await img.screenshot();
    await page.waitForTimeout(1500);
    const b = await img.screenshot();
    assert.notDeepEqual(a, b, 'the picture moved');
    await shot('live');
  });

  it('a person event appears; its snapshot shows and its clip plays and seeks', async () => {
    await page.goto(`${base}/#/events`);
    const row = page
      .getByTestId('event-row')
      .filter({ hasText: /person/i })
      .filter({ hasText: / · \d+ s/ })
      .first();
    await row.waitFor({ timeout: 90_000 });
    await shot('events');
    await row.click();
    await page.getByTestId('snapshot').waitFor();
    await page.waitForFunction(
      () => ((document.querySelector('[data-testid=snapshot]') as HTMLImageElement | null)?.naturalWidth ?? 0) > 0,
    );
    const video = page.getByTestId('clip');
    await page.waitForFunction(
      () => ((document.querySelector('[data-testid=clip]') as HTMLVideoElement | null)?.currentTime ?? 0) > 0.5,
      undefined,
      { timeout: 30_000 },
    );
    const duration = await video.evaluate((v: HTMLVideoElement) => v.duration);
    assert.ok(duration > 3, `clip duration ${duration}`);
    const seekTo = Math.min(duration - 1, 3);
    await video.evaluate((v: HTMLVideoElement, t: number) => {
      v.currentTime = t;
    }, seekTo);
    await page.waitForFunction((t) => {
      const v = document.querySelector('[data-testid=clip]') as HTMLVideoElement | null;
      return Boolean(v && !v.seeking && Math.abs(v.currentTime - t) < 1.5);
    }, seekTo);
    await shot('event-detail');
  });

  it('adding a camera with a bad URL shows the field error; a valid file camera comes online', async () => {
    await page.goto(`${base}/#/cameras`);
    await page.getByRole('button', { name: 'Add camera' }).click();
    await page.locator('input[name=name]').fill('Garage');
    await page.locator('input[name=recordUrl]').fill('http://not-a-camera/stream');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('#recordUrl-error').waitFor();
    assert.match((await page.locator('#recordUrl-error').textContent()) ?? '', /rtsp:\/\//);
    await shot('cameras-error');
    await page.locator('select[name=kind]').selectOption('file');
    await page.locator('input[name=recordUrl]').fill(sharedPath('media', 'city-no-people.mp4'));
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('status-garage').filter({ hasText: 'online' }).waitFor({ timeout: 30_000 });
    await shot('cameras');
  });

  it('changing a detection threshold persists across reload', async () => {
    await page.goto(`${base}/#/settings`);
    const field = page.locator('input[name="detection.motion.threshold"]');
    await field.waitFor();
    await field.fill('42');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    await page.reload();
    await page.locator('input[name="detection.motion.threshold"]').waitFor();
    assert.equal(await page.locator('input[name="detection.motion.threshold"]').inputValue(), '42');
    // A bad value shows the API's error next to the field.
    await page.locator('input[name="http.port"]').fill('70000');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('field(s) need attention').waitFor();
    await shot('settings');
  });

  it("shows the link to the demo's own server, and a bad pairing code's error", async () => {
    await page.goto(`${base}/#/settings`);
    await page.getByLabel('Link state').filter({ hasText: 'Connected' }).waitFor({ timeout: 20_000 });
    await page.getByLabel(/Pairing code/).fill('GUARDIAN-PAIR-1:not-a-real-code');
    await page.getByRole('button', { name: 'Pair again' }).click();
    await page.getByRole('alert').filter({ hasText: 'damaged' }).waitFor();
    assert.match((await page.getByLabel('Link state').textContent()) ?? '', /Connected/, 'the old pairing still works');
    await shot('settings-link');
  });

  it('datasets: capture and label a screenshot; phone layout', async () => {
    await page.goto(`${base}/#/datasets`);
    await page.getByRole('button', { name: /Capture screenshot/ }).click();
    await page.getByTestId('screenshot').first().waitFor();
    await page.getByTestId('screenshot').first().getByRole('button', { name: 'normal', exact: true }).click();
    await page
      .getByTestId('screenshot')
      .first()
      .getByRole('button', { name: 'normal', exact: true, pressed: true })
      .waitFor();
    await shot('datasets');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/#/dashboard`);
    await page.getByRole('navigation', { name: 'Main (phone)' }).waitFor();
    await shot('dashboard-phone');
  });
});
