// USB hot-plug on a running edge. No camera device exists on this machine, so the sysfs and /dev trees the edge
// watches are synthesised here; the camera added from the offer points at a /dev node that really does not exist,
// which is exactly an unplugged camera to the media process.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { type Edge, startEdge } from '../../src/edge/runtime.ts';
import { validateConfig } from '../../src/shared/config.ts';
import { createLogger } from '../../src/shared/log.ts';
import { tempDir } from '../helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('USB hot-plug on the running edge (synthesised sysfs and /dev: no camera device here)', function () {
  this.timeout(60_000);
  const dir = tempDir();
  let edge: Edge;
  let auth: Record<string, string>;
  const node = 'video7';
  const plug = () => {
    const sys = join(dir.path, 'sys', 'class', 'video4linux', node);
    mkdirSync(sys, { recursive: true });
    writeFileSync(join(sys, 'name'), 'Logitech BRIO\n');
    writeFileSync(join(sys, 'index'), '0\n');
    writeFileSync(join(dir.path, 'dev', node), '');
  };
  const get = async <T>(path: string) => (await (await fetch(`${edge.url}${path}`, { headers: auth })).json()) as T;

  before(async () => {
    mkdirSync(join(dir.path, 'dev'), { recursive: true });
    mkdirSync(join(dir.path, 'sys', 'class', 'video4linux'), { recursive: true });
    edge = await startEdge(validateConfig({ dataDir: join(dir.path, 'data'), http: { host: '127.0.0.1', port: 0 } }), {
      log: createLogger({ level: 'silent' }),
      usb: { sysfsRoot: join(dir.path, 'sys'), devRoot: join(dir.path, 'dev') },
    });
    auth = { authorization: `Bearer ${edge.ctx.auth.createApiToken('test').token}` };
  });
  after(async () => {
    await edge?.stop();
    dir.remove();
  });

  it('a camera plugged in is offered; added, it shows offline when its device is gone; unplugged, the offer goes', async () => {
    type Offer = { device: string; name: string; camera: Record<string, unknown> };
    assert.deepEqual(await get<Offer[]>('/api/cameras/offered'), []);
    plug();
    const offer = await until('the offer', async () =>
      (await get<Offer[]>('/api/cameras/offered')).find((o) => o.device.endsWith(node)),
    );
    assert.equal(offer.name, 'Logitech BRIO');
    const added = await fetch(`${edge.url}/api/cameras`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(offer.camera),
    });
    assert.equal(added.status, 201, await added.clone().text());
    const cam = (await added.json()) as { id: string };
    assert.deepEqual(await get<Offer[]>('/api/cameras/offered'), [], 'an added camera is no longer offered');
    // /dev/video7 does not exist on this machine: to the media process the camera is unplugged.
    const runtime = await until('the camera offline', async () => {
      const c = await get<{ runtime: { status: string; lastErrorCode: string | null } | null }>(
        `/api/cameras/${cam.id}`,
      );
      return c.runtime?.status === 'offline' && c.runtime.lastErrorCode === 'UNPLUGGED' ? c.runtime : undefined;
    });
    assert.equal(runtime.status, 'offline');
    await fetch(`${edge.url}/api/cameras/${cam.id}`, { method: 'DELETE', headers: auth });
    assert.equal((await get<Offer[]>('/api/cameras/offered')).length, 1, 'removed from the registry: offered again');
    rmSync(join(dir.path, 'dev', node));
    await until('the offer to go', async () =>
      (await get<Offer[]>('/api/cameras/offered')).length === 0 ? true : undefined,
    );
  });
});
