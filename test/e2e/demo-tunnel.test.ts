// `guardian demo --tunnel`: the demo's own server runs in a network namespace of its own and the edge reaches it
// through WireGuard; events arrive there, and stopping the demo removes the namespace and the interfaces.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { projectRoot } from '../../src/shared/paths.ts';
import { wireGuardUnavailable } from '../../src/shared/wireguard/interface.ts';
import { tempDir } from '../helpers.ts';
import { netnsUnavailable } from '../support/netns.ts';
import { freePort } from '../support/rtsp.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('guardian demo --tunnel (the VM in its own namespace, through WireGuard)', function () {
  this.timeout(180_000);
  const skipReason = netnsUnavailable() ?? wireGuardUnavailable();
  const dir = tempDir();
  let demo: ChildProcess | undefined;
  let output = '';

  before(function () {
    if (skipReason) {
      console.log(`      skipped: ${skipReason}`);
      this.skip();
    }
  });

  after(async () => {
    // A test that failed midway: stop the demo gracefully first (it removes its namespace, links and VM), and if it
    // will not stop, kill it and remove what it made by name, so nothing outlives the test.
    if (demo && demo.exitCode === null) {
      demo.kill('SIGTERM');
      for (let i = 0; i < 150 && demo.exitCode === null; i++) await sleep(100);
      if (demo.exitCode === null) demo.kill('SIGKILL');
    }
    const tag = createHash('sha256').update(dir.path).digest('hex').slice(0, 6); // as the demo names them
    const ns = `gdemo-${tag}`;
    if (!skipReason && execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(ns)) {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
      for (const pid of pids) spawnSync('kill', ['-9', pid]);
      spawnSync('ip', ['netns', 'del', ns]);
    }
    if (!skipReason) {
      spawnSync('pkill', ['-9', '-f', `wireguard-go -f gde${tag}`]);
      for (const link of [`gdh${tag}`, `gde${tag}`]) spawnSync('ip', ['link', 'del', link], { stdio: 'ignore' });
    }
    dir.remove();
  });

  it('delivers the demo events to the VM through the tunnel and cleans up on exit', async () => {
    const port = await freePort();
    demo = spawn(
      process.execPath,
      [join(projectRoot, 'bin', 'guardian.mjs'), 'demo', '--tunnel', '--data-dir', dir.path, '--port', String(port)],
      { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GUARDIAN_LOG_LEVEL: 'warn' } },
    );
    for (const s of [demo.stdout, demo.stderr])
      s?.on('data', (d) => {
        output += d;
      });
    // The VM's line comes after "is running", possibly in a later chunk of stdout: wait for it.
    for (let i = 0; i < 300 && !/your server \(VM\):.*\n/.test(output); i++) await sleep(100);
    const vmUrl = /your server \(VM\): (http:\/\/10\.233\.\d+\.2:8600)\/api\/events .*through WireGuard/.exec(
      output,
    )?.[1];
    assert.ok(vmUrl, output);
    const token = readFileSync(join(dir.path, 'vm-tunnel', 'api-token'), 'utf8').trim();
    const get = async <T>(path: string) =>
      (await (await fetch(`${vmUrl}${path}`, { headers: { Authorization: `Bearer ${token}` } })).json()) as T;
    let events: unknown[] = [];
    for (let i = 0; i < 60 && !events.length; i++) {
      events = (await get<{ events: unknown[] }>('/api/events')).events;
      if (!events.length) await sleep(1000);
    }
    assert.ok(events.length > 0, `events reached the VM\n${output}`);
    const { edges } = await get<{ edges: { tunnelAddress: string; tunnel: { lastHandshakeAgeSeconds: number } }[] }>(
      '/api/edges',
    );
    assert.match(edges[0]?.tunnelAddress ?? '', /^10\.77\./);
    assert.ok((edges[0]?.tunnel.lastHandshakeAgeSeconds ?? 999) < 180);

    demo.kill('SIGTERM');
    await new Promise((r) => (demo?.exitCode !== null ? r(null) : demo?.once('exit', r)));
    assert.equal(demo.exitCode, 0, output);
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    const links = execFileSync('ip', ['-br', 'link'], { encoding: 'utf8' });
    const tag = createHash('sha256').update(dir.path).digest('hex').slice(0, 6); // as the demo names them
    for (const name of [`gdemo-${tag}`, `gdh${tag}`, `gde${tag}`])
      assert.ok(!namespaces.includes(name) && !links.includes(name), `${name} is gone`);
  });
});
