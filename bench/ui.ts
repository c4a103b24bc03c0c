// Web UI benchmark: production bundle size (gzip) and time to first render of the dashboard on localhost, against
// the time to fetch the same page's status API call alone (measured in the same run).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { chromium } from 'playwright-core';

import { startEdge } from '../src/edge/runtime.ts';
import { CONSOLE } from '../src/edge/web/auth.ts';
import { validateConfig } from '../src/shared/config.ts';
import { createLogger } from '../src/shared/log.ts';
import { projectRoot } from '../src/shared/paths.ts';

export async function benchUi(progress: (m: string) => void) {
  const dist = join(projectRoot, 'dist', 'ui', 'assets');
  const files = readdirSync(dist);
  const size = (ext: string) =>
    files.filter((f) => f.endsWith(ext)).reduce((s, f) => s + gzipSync(readFileSync(join(dist, f))).length, 0);
  const bundle = { jsGzipBytes: size('.js'), cssGzipBytes: size('.css') };

  progress('ui: first render of the dashboard');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'guardian-bench-ui-'));
  process.env.GUARDIAN_LOG_LEVEL = 'error';
  const edge = await startEdge(validateConfig({ dataDir: dir, http: { host: '127.0.0.1', port: 0 } }), {
    log: createLogger({ level: 'error' }),
  });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    await edge.ctx.auth.setup('bench-password-123', CONSOLE);
    const page = await browser.newPage();
    await page.goto(`${edge.url}/`);
    await page.locator('input[name=password]').fill('bench-password-123');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    const renders: number[] = [];
    const apis: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = Date.now();
      // A full page load (the query string defeats same-document navigation), as when the owner opens the UI.
      await page.goto(`${edge.url}/?load=${i}#/dashboard`, { waitUntil: 'commit' });
      await page.getByTestId('cameras-online').waitFor();
      renders.push(Date.now() - t0);
      const t1 = performance.now();
      await page.evaluate(() => fetch('/api/status').then((r) => r.json()));
      apis.push(performance.now() - t1);
    }
    renders.sort((a, b) => a - b);
    apis.sort((a, b) => a - b);
    return {
      bundle,
      dashboardFirstRenderMs: { p50: renders[5], max: renders[9] },
      statusApiMs: { p50: Math.round((apis[5] ?? 0) * 10) / 10 },
      target: 'first render well under 1 s on the local network',
    };
  } finally {
    await browser.close();
    await edge.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
