// ACME certificates for the local UI (issue #20, "HTTPS on the local network"), against Pebble, Let's Encrypt's
// ACME test CA, and its DNS server (pebble-challtestsrv, resolving every name to 127.0.0.1), both built by setup
// into .vendor/bin. `guardian edge` serves its self-signed certificate until Pebble has validated the challenge
// (http-01 on its challenge port, or dns-01 through an owner's hook script), then Pebble's, swapped in without a
// restart, renewed when a third of its lifetime is left, kept across restarts; an unreachable CA changes nothing.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';

import selfsigned from 'selfsigned';
import YAML from 'yaml';

import { projectRoot } from '../../src/shared/paths.ts';
import { tempDir, until } from '../helpers.ts';
import { freePort } from '../support/rtsp.ts';

const guardian = join(projectRoot, 'bin', 'guardian.mjs');
const bin = join(projectRoot, '.vendor', 'bin');
const DOMAIN = 'guardian.example.test';
class Proc {
  out = '';
  readonly child: ChildProcess;
  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(cmd, args, {
      cwd: projectRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => {
      this.out = (this.out + d.toString()).slice(-100_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** The certificate the UI presents for the domain (no verification: the first one is self-signed). */
function servedCertificate(port: number): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: DOMAIN, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate());
      s.end();
    });
    s.once('error', reject);
  });
}

/** An HTTPS request to the UI that verifies the chain against Pebble's root and the name against the domain. */
function verifiedHealth(port: number, root: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/healthz',
        servername: DOMAIN,
        headers: { host: `${DOMAIN}:${port}` },
        agent: new Agent({ ca: root, keepAlive: false }),
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.once('error', reject);
    req.end();
  });
}

describe('ACME certificates for the local UI, from Pebble (#20 HTTPS)', function () {
  this.timeout(180_000);
  const missing = ['pebble', 'pebble-challtestsrv'].find((t) => !existsSync(join(bin, t)));
  const dir = tempDir('guardian-acme-');
  let pebble: Proc | undefined;
  let dns: Proc | undefined;
  const edges: Proc[] = [];
  let acmePort = 0; // Pebble's ACME API (HTTPS)
  let mgmtPort = 0; // Pebble's management API: its roots
  let dnsMgmtPort = 0; // the DNS server's management API: TXT records
  let challengePort = 0; // where Pebble's validator asks for http-01 answers
  let caFile = '';
  let root = '';

  before(async function () {
    if (missing) {
      console.log(`      skipped: ${missing} is not built (needs Go; npm run setup builds it into .vendor/bin)`);
      this.skip();
    }
    const ports = await Promise.all([1, 2, 3, 4].map(() => freePort()));
    [acmePort, mgmtPort, dnsMgmtPort, challengePort] = ports as [number, number, number, number];
    const dnsPort = await freePort();
    // Pebble's own HTTPS certificate, from a CA the edge is told to trust (NODE_EXTRA_CA_CERTS).
    const ca = await selfsigned.generate([{ name: 'commonName', value: 'acme test CA' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [{ name: 'basicConstraints', cA: true }],
    });
    const leaf = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      ca: { key: ca.private, cert: ca.cert },
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    caFile = join(dir.path, 'ca.pem');
    writeFileSync(caFile, ca.cert);
    writeFileSync(join(dir.path, 'pebble-cert.pem'), leaf.cert);
    writeFileSync(join(dir.path, 'pebble-key.pem'), leaf.private);
    writeFileSync(
      join(dir.path, 'pebble.json'),
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${acmePort}`,
          managementListenAddress: `127.0.0.1:${mgmtPort}`,
          certificate: join(dir.path, 'pebble-cert.pem'),
          privateKey: join(dir.path, 'pebble-key.pem'),
          httpPort: challengePort,
          tlsPort: await freePort(),
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
          keyAlgorithm: 'ecdsa',
          // 60 s certificates: renewal (at two thirds) is seen within the test.
          profiles: { default: { description: 'short', validityPeriod: 60 } },
        },
      }),
    );
    dns = new Proc(join(bin, 'pebble-challtestsrv'), [
      '-http01',
      '',
      '-https01',
      '',
      '-doh',
      '',
      '-tlsalpn01',
      '',
      '-dnsserver',
      `127.0.0.1:${dnsPort}`,
      '-management',
      `127.0.0.1:${dnsMgmtPort}`,
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
    ]);
    pebble = new Proc(
      join(bin, 'pebble'),
      ['-config', join(dir.path, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`],
      {
        PEBBLE_VA_NOSLEEP: '1',
        PEBBLE_WFE_NONCEREJECT: '0',
      },
    );
    await until('Pebble', () => pebble?.out.includes('Listening on'), 20_000);
    const rootRes = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port: mgmtPort, path: '/roots/0', ca: ca.cert }, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve(body));
      })
        .once('error', reject)
        .end();
    });
    root = rootRes;
    assert.match(root, /BEGIN CERTIFICATE/);
  });

  after(async () => {
    await pebble?.stop();
    await dns?.stop();
    dir.remove();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed')
      for (const p of [...edges, pebble, dns]) if (p) console.log(`----- output -----\n${p.out.slice(-4000)}`);
    for (const e of edges.splice(0)) await e.stop(); // each test's edges answer challenges on the same port
  });

  async function startEdge(name: string, acme: Record<string, unknown>): Promise<{ port: number; data: string }> {
    const data = join(dir.path, name);
    const port = await freePort();
    mkdirSync(data, { recursive: true });
    const file = join(dir.path, `${name}.yaml`);
    writeFileSync(
      file,
      YAML.stringify({
        dataDir: data,
        http: {
          host: '127.0.0.1',
          port,
          tls: { enabled: true, acme: { domain: DOMAIN, directoryUrl: `https://127.0.0.1:${acmePort}/dir`, ...acme } },
        },
      }),
    );
    const edge = new Proc(process.execPath, [guardian, 'edge', '--config', file], { NODE_EXTRA_CA_CERTS: caFile });
    edges.push(edge);
    await until('the edge', () => edge.out.includes('edge ready'), 60_000);
    return { port, data };
  }

  const isPebbles = (c: PeerCertificate) => /Pebble/i.test(String(c.issuer?.CN));

  it('http-01: serves the self-signed certificate, then Pebble’s without a restart, renews it, keeps it across restarts', async () => {
    const { port, data } = await startEdge('http01', { challengePort });
    const edge = edges.at(-1) as Proc;
    const issued = await until(
      'a certificate from Pebble',
      async () => {
        const c = await servedCertificate(port);
        return isPebbles(c) && c;
      },
      60_000,
    );
    assert.ok(issued.subjectaltname?.includes(`DNS:${DOMAIN}`), issued.subjectaltname);
    assert.equal(await verifiedHealth(port, root), 200, "the chain verifies against Pebble's root, for the domain");
    for (const f of ['account.key', 'key.pem', 'cert.pem'])
      assert.equal(statSync(join(data, 'tls', 'acme', f)).mode & 0o777, 0o600, f);
    // Renewal at two thirds of 60 s: another certificate, same process.
    const renewed = await until(
      'a renewed certificate',
      async () => {
        const c = await servedCertificate(port);
        return isPebbles(c) && c.serialNumber !== issued.serialNumber && c;
      },
      90_000,
    );
    assert.ok(Date.parse(renewed.valid_to) > Date.parse(issued.valid_to));
    assert.equal(edge.child.exitCode, null, 'no restart');
    // Restarted: the stored certificate is served from the first handshake.
    await edge.stop();
    const again = await startEdge('http01', { challengePort });
    const first = await servedCertificate(again.port);
    assert.ok(isPebbles(first) && Date.parse(first.valid_to) > Date.now(), `served at once: ${first.issuer?.CN}`);
  });

  it('dns-01 through the owner’s hook script', async () => {
    const hook = join(dir.path, 'dns-hook.mjs');
    // The hook publishes the TXT record with the DNS server's management API, as a provider's API would.
    writeFileSync(
      hook,
      `#!${process.execPath}
const [action, name, value] = process.argv.slice(2);
const path = action === 'add' ? '/set-txt' : '/clear-txt';
const res = await fetch('http://127.0.0.1:${dnsMgmtPort}' + path, { method: 'POST', body: JSON.stringify({ host: name + '.', value }) });
if (!res.ok) process.exit(1);
`,
      { mode: 0o700 },
    );
    const { port } = await startEdge('dns01', { challenge: 'dns-01', dnsHook: hook });
    const c = await until(
      'a certificate from Pebble',
      async () => {
        const x = await servedCertificate(port);
        return isPebbles(x) && x;
      },
      60_000,
    );
    assert.ok(c.subjectaltname?.includes(`DNS:${DOMAIN}`));
    assert.match(edges.at(-1)?.out ?? '', /ACME certificate issued/);
  });

  it('a CA whose certificate is not trusted: refused, the self-signed certificate stays, the UI answers', async () => {
    // An HTTPS "directory" with a certificate nobody vouches for: a man in the middle, or the wrong server.
    const fake = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
    });
    let asked = 0;
    const impostor = createServer({ cert: fake.cert, key: fake.private }, (_req, res) => {
      asked++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
    try {
      const impostorPort = (impostor.address() as AddressInfo).port;
      const { port } = await startEdge('untrusted', {
        challengePort,
        directoryUrl: `https://127.0.0.1:${impostorPort}/dir`,
      });
      const edge = edges.at(-1) as Proc;
      await until('the failed order in the log', () => /ACME order failed/.test(edge.out), 30_000);
      assert.match(edge.out, /self[- ]signed certificate/);
      assert.equal(asked, 0, 'no request reached the impostor');
      const c = await servedCertificate(port);
      assert.ok(!isPebbles(c), 'still the self-signed certificate');
      assert.equal(edge.child.exitCode, null);
    } finally {
      impostor.close();
    }
  });

  it('refuses settings that cannot work: dns-01 without a hook, acme beside an own certificate', async () => {
    const { validateConfig: parseConfig } = await import('../../src/shared/config.ts');
    assert.throws(() => parseConfig({ http: { tls: { acme: { domain: DOMAIN, challenge: 'dns-01' } } } }), /dnsHook/);
    assert.throws(
      () => parseConfig({ http: { tls: { cert: '/c.pem', key: '/k.pem', acme: { domain: DOMAIN } } } }),
      /exclude/,
    );
    assert.throws(() => parseConfig({ http: { tls: { acme: { domain: 'not a domain' } } } }), /domain/);
    assert.ok(readFileSync(join(projectRoot, 'docs', 'configuration.md'), 'utf8').includes('acme'));
  });
});
