// `guardian demo` driven from Debian's chromium (playwright-core), shared by the UI tests: starts the demo with the
// first-run page on a free port in a data dir of the test's, then chromium; stop() closes both.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { type Browser, chromium, type Page } from 'playwright-core';

import { projectRoot } from '../../src/shared/paths.ts';
import { tempDir } from '../helpers.ts';
import { freePort } from './rtsp.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const artifacts = join(projectRoot, 'artifacts', 'ui');

export interface UiDemo {
  base: string;
  /** The demo's data dir (the test's own temporary folder). */
  dataDir: string;
  page: Page;
  browser: Browser;
  demo: ChildProcess;
  /** What the demo printed so far. */
  output(): string;
  /** The first-run setup code the demo printed on its console. */
  setupCode(): string;
  stop(): Promise<void>;
}

/** Why the UI tests cannot run here, or null. */
export const chromiumUnavailable = (): string | null =>
  existsSync(CHROMIUM) ? null : 'Debian chromium is not installed (npm run setup installs it when run as root)';

export async function startUiDemo(dataDir: string): Promise<UiDemo> {
  mkdirSync(artifacts, { recursive: true });
  const port = await freePort();
  const demo = spawn(
    process.execPath,
    [
      join(projectRoot, 'bin', 'guardian.mjs'),
      'demo',
      '--data-dir',
      dataDir,
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
  const browser = await chromium.launch({
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
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  return {
    base: `http://127.0.0.1:${port}`,
    dataDir,
    page,
    browser,
    demo,
    output: () => out,
    setupCode() {
      const code = /the setup code is ([0-9A-Z]{5}-[0-9A-Z]{5})/.exec(out)?.[1];
      if (!code) throw new Error(`the demo printed no setup code:\n${out}`);
      return code;
    },
    async stop() {
      await browser.close();
      demo.kill('SIGTERM');
      if (demo.exitCode === null) await new Promise((r) => demo.once('exit', r));
    },
  };
}

/**
 * Registers the suite's before/after hooks: the demo and chromium start before its tests (or the suite is skipped,
 * saying why) and are stopped, and the data dir removed, after them. The returned function gives the running demo.
 */
export function useUiDemo(): () => UiDemo {
  const dir = tempDir();
  let ui: UiDemo | undefined;
  before(async function () {
    const why = chromiumUnavailable();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    ui = await startUiDemo(dir.path);
  });
  after(async () => {
    await ui?.stop();
    dir.remove();
  });
  return () => ui as UiDemo;
}
