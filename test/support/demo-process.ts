// `guardian demo` as a child process, for the fault tests that kill it, slow its disk or move its clock: started
// on a data dir and port of the test's, logged in as admin, stopped (SIGTERM, waited for) at the end.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { projectRoot } from '../../src/shared/paths.ts';
import { ffprobeSegment } from '../helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface DemoProcess {
  child: ChildProcess;
  base: string;
  /** Everything it printed on stdout and stderr so far. */
  output(): string;
  /** Logs in as admin: the cookie header and the CSRF token. */
  login(): Promise<{ cookie: string; csrf: string }>;
  stop(): Promise<void>;
}

export async function startDemoProcess(o: {
  dataDir: string;
  port: number;
  password: string;
  env?: NodeJS.ProcessEnv;
  /** More options of `guardian demo` (e.g. --webhook URL). */
  args?: string[];
}): Promise<DemoProcess> {
  let out = '';
  const child = spawn(
    process.execPath,
    [
      join(projectRoot, 'bin', 'guardian.mjs'),
      'demo',
      '--data-dir',
      o.dataDir,
      '--port',
      String(o.port),
      '--admin-password',
      o.password,
      '--no-open',
      ...(o.args ?? []),
    ],
    { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } },
  );
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  for (let i = 0; i < 600 && !out.includes('Guardian demo is running'); i++) await sleep(100);
  assert.match(out, /Guardian demo is running/);
  const base = `http://127.0.0.1:${o.port}`;
  return {
    child,
    base,
    output: () => out,
    async login() {
      const res = await fetch(`${base}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password: o.password }),
      });
      assert.equal(res.status, 200);
      const cookie = res.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      return { cookie, csrf: String(((await res.json()) as { csrf: string }).csrf) };
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The recording segments on disk under a data dir. */
export function recordedSegments(dataDir: string): string[] {
  const root = join(dataDir, 'recordings');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .map((f) => join(root, f))
    .filter((f) => f.endsWith('.mp4') && statSync(f).isFile());
}

/**
 * After a fault: every event listed before it is still listed, and every segment on disk before it, except the one
 * being written now, still plays.
 */
export async function assertKept(
  listEvents: () => Promise<{ id: string }[]>,
  events: { id: string }[],
  dataDir: string,
  segmentsBefore: string[],
): Promise<void> {
  const after = await listEvents();
  for (const e of events)
    assert.ok(
      after.some((x) => x.id === e.id),
      `event ${e.id} kept`,
    );
  const newest = recordedSegments(dataDir).reduce((a, b) => (statSync(a).mtimeMs > statSync(b).mtimeMs ? a : b));
  for (const f of segmentsBefore.filter((x) => x !== newest))
    assert.ok((await ffprobeSegment(f)).frames > 0, `${f} still plays`);
}
