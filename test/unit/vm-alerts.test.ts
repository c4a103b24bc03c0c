// The one alert the owner's server raises: an edge gone silent, and its return, through a real webhook on loopback
// (signed with the key from the VM's secret file), retried while the receiver fails.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { verifyWebhookSignature } from '../../src/shared/alerts/webhook.ts';
import { createLogger } from '../../src/shared/log.ts';
import { SilentEdgeWatch, vmAlertChannels } from '../../src/vm/alerts.ts';
import type { EdgeInfo } from '../../src/vm/cache/cache.ts';
import { vmConfigSchema } from '../../src/vm/config.ts';
import { tempDir } from '../helpers.ts';

describe("the owner's server alerts an edge gone silent", () => {
  const dir = tempDir('guardian-vm-alerts-');
  after(() => dir.remove());

  it('once when it goes quiet, once when it is back; a failing receiver is retried', async () => {
    const got: { body: string; ok: boolean }[] = [];
    let failNext = 1;
    const secretFile = join(dir.path, 'webhook.secret');
    writeFileSync(secretFile, 'vm-signing-key\n', { mode: 0o600 });
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        const ok = verifyWebhookSignature('vm-signing-key', req.headers, body);
        got.push({ body, ok });
        res.statusCode = failNext-- > 0 ? 503 : 200;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const config = vmConfigSchema.parse({
        dataDir: dir.path,
        alerts: { webhook: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/vm`, secretFile } },
      });
      let now = 1_800_000_000_000;
      let edge: Pick<EdgeInfo, 'edgeId' | 'name' | 'status' | 'lastSeen'> = {
        edgeId: 'edge-1',
        name: 'Home',
        status: 'healthy',
        lastSeen: now,
      };
      const watch = new SilentEdgeWatch(
        { edges: () => [edge as EdgeInfo] },
        vmAlertChannels(config.alerts),
        config.alerts.silentMinutes * 60_000,
        createLogger({ level: 'silent' }),
        () => now,
      );
      watch.start(3_600_000);
      await watch.check();
      assert.equal(got.length, 0, 'heard from: nothing');
      now += 11 * 60_000;
      edge = { ...edge, status: 'offline' };
      await watch.check();
      assert.equal(got.length, 1, 'the first try');
      assert.equal(watch.delivered.length, 0, 'the receiver failed it');
      await watch.check();
      assert.equal(got.length, 1, 'not before its retry time, and no second alert for the same silence');
      now += 10_000;
      await watch.check();
      assert.equal(watch.delivered.length, 1);
      const alert = JSON.parse(got[1]?.body ?? '{}');
      assert.deepEqual(
        [alert.kind, alert.severity, alert.title, alert.edgeId],
        ['edge_silent', 'warning', 'Home is silent', 'edge-1'],
      );
      assert.match(alert.message, /not heard from for 11 min/);
      assert.ok(
        got.every((g) => g.ok),
        'signed with the key in the secret file',
      );
      edge = { ...edge, status: 'healthy', lastSeen: now };
      await watch.check();
      assert.equal(JSON.parse(got.at(-1)?.body ?? '{}').title, 'Home is back');
      watch.stop();
    } finally {
      server.close();
    }
  });
});
