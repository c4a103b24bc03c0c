// A WireGuard tunnel between two network namespaces joined by a veth: wireguard-go on each side, traffic through the
// tunnel, handshake and byte counters from the UAPI, a removed peer cutting the tunnel, stale and dying processes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

import { type WireGuardExit, WireGuardInterface, wireGuardUnavailable } from '../../src/shared/wireguard/interface.ts';
import { generateKeyPair } from '../../src/shared/wireguard/keys.ts';
import { uapiGet, uapiSet } from '../../src/shared/wireguard/uapi.ts';
import { createNetnsPair, type NetnsPair, netnsUnavailable } from '../support/netns.ts';

const run = promisify(execFile);
const PORT = 51820;

const ifaceName = () => `gw${randomBytes(4).toString('hex')}`;

// A TCP SYN to a port where nothing listens, answered by the peer's kernel with a RST, is a round trip through the
// tunnel like a ping (ping itself is not always installed); with no tunnel wireguard-go drops the SYN: a timeout.
async function reaches(ns: string, host: string): Promise<boolean> {
  const script = `const s = require('node:net').connect({ host: ${JSON.stringify(host)}, port: 9, timeout: 1000 });
s.on('connect', () => process.exit(0));
s.on('error', (e) => process.exit(e.code === 'ECONNREFUSED' ? 0 : 1));
s.on('timeout', () => process.exit(1));`;
  return run('ip', ['netns', 'exec', ns, process.execPath, '-e', script]).then(
    () => true,
    () => false,
  );
}

async function reachesWithin(ns: string, host: string, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) if (await reaches(ns, host)) return true;
  return false;
}

async function linkExists(ns: string, name: string): Promise<boolean> {
  return run('ip', ['-n', ns, 'link', 'show', name]).then(
    () => true,
    () => false,
  );
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('WireGuard tunnel between network namespaces (wireguard-go)', function () {
  this.timeout(30_000);
  let net: NetnsPair;
  const subnet = 10 + Math.floor(Math.random() * 200);
  const ifaces: WireGuardInterface[] = [];

  before(function () {
    const missing = netnsUnavailable() ?? wireGuardUnavailable();
    if (missing) {
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    net = createNetnsPair();
  });
  after(async () => {
    await Promise.all(ifaces.map((i) => i.down()));
    net?.remove();
  });

  it('carries traffic both ways, reports handshake and bytes, and stops when the peer is removed', async () => {
    const ka = generateKeyPair();
    const kb = generateKeyPair();
    const a = await WireGuardInterface.up({
      name: ifaceName(),
      privateKey: ka.privateKey,
      address: `10.99.${subnet}.1/24`,
      listenPort: PORT,
      netns: net.a.ns,
      mode: 'userspace',
    });
    ifaces.push(a);
    const b = await WireGuardInterface.up({
      name: ifaceName(),
      privateKey: kb.privateKey,
      address: `10.99.${subnet}.2/24`,
      listenPort: PORT,
      netns: net.b.ns,
      mode: 'userspace',
    });
    ifaces.push(b);
    assert.equal(a.mode, 'userspace');
    // The device reports the public key of the key it was given (never the private key) and the port.
    const device = await uapiGet(a.socketPath);
    assert.equal(device.publicKey, ka.publicKey);
    assert.equal(device.listenPort, PORT);
    await assert.rejects(
      uapiSet(a.socketPath, { privateKey: ka.privateKey, listenPort: 70_000 }),
      (e: Error) => /errno=-22 \(EINVAL\)/.test(e.message) && !e.message.includes(ka.privateKey),
    );

    // Only a knows where b is (like the edge dialling the owner's server); b learns a's endpoint from the handshake.
    // b first: a initiates as soon as it has the peer, and an initiation b cannot place is retried only after 5 s.
    await b.setPeer({ publicKey: ka.publicKey, allowedIps: [`10.99.${subnet}.1/32`] });
    await a.setPeer({
      publicKey: kb.publicKey,
      endpoint: `${net.b.ip}:${PORT}`,
      allowedIps: [`10.99.${subnet}.2/32`],
      persistentKeepalive: 1,
    });
    assert.ok(await reachesWithin(net.a.ns, `10.99.${subnet}.2`, 5000), 'a reaches b through the tunnel');
    assert.ok(await reaches(net.b.ns, `10.99.${subnet}.1`), 'b reaches a through the tunnel');

    for (const [side, iface, peerKey, endpoint] of [
      ['a', a, kb.publicKey, `${net.b.ip}:${PORT}`],
      ['b', b, ka.publicKey, `${net.a.ip}:${PORT}`],
    ] as const) {
      const { peers } = await iface.stats();
      assert.equal(peers.length, 1, side);
      const p = peers[0];
      assert.ok(p);
      assert.equal(p.publicKey, peerKey);
      assert.equal(p.endpoint, endpoint);
      assert.ok(p.lastHandshakeAgeMs !== null && p.lastHandshakeAgeMs >= 0 && p.lastHandshakeAgeMs < 10_000, side);
      assert.ok(p.rxBytes > 0 && p.txBytes > 0, `${side}: rx ${p.rxBytes} tx ${p.txBytes}`);
    }

    await a.removePeer(kb.publicKey);
    assert.deepEqual((await a.stats()).peers, []);
    assert.equal(await reaches(net.a.ns, `10.99.${subnet}.2`), false, 'no peer, no tunnel');

    // wireguard-go's TUN link goes with the process.
    await a.down();
    assert.equal(await linkExists(net.a.ns, a.name), false);
  });

  it('replaces a stale interface of the same name, reports a dying wireguard-go and goes down idempotently', async () => {
    const name = ifaceName();
    const { privateKey } = generateKeyPair();
    const opts = { name, privateKey, address: `10.98.${subnet}.1/24`, netns: net.a.ns, mode: 'userspace' as const };
    const exits: WireGuardExit[] = [];
    const first = await WireGuardInterface.up({ ...opts, onExit: (e) => exits.push(e) });
    ifaces.push(first);
    const second = await WireGuardInterface.up({ ...opts, onExit: (e) => exits.push(e) });
    ifaces.push(second);
    // The first wireguard-go loses its TUN with the stale link and exits.
    await until(() => exits.length === 1, 3000);
    assert.equal((await second.stats()).peers.length, 0);

    assert.ok(second.pid);
    process.kill(second.pid, 'SIGKILL');
    await until(() => exits.length === 2, 3000);
    assert.equal(exits[1]?.signal, 'SIGKILL');

    await second.down();
    await second.down();
    assert.equal(await linkExists(net.a.ns, name), false);
  });

  it('says what is missing when wireguard-go is not there, and leaves no link behind', async () => {
    const name = ifaceName();
    await assert.rejects(
      WireGuardInterface.up({
        name,
        privateKey: generateKeyPair().privateKey,
        address: `10.97.${subnet}.1/24`,
        netns: net.a.ns,
        mode: 'userspace',
        wireguardGo: '/nonexistent/wireguard-go',
      }),
      /wireguard-go not found: install wireguard-go/,
    );
    assert.equal(await linkExists(net.a.ns, name), false);
  });
});
