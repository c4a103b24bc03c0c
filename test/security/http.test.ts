// Issue #20: the attacks on the edge's HTTP API that used to work, each replayed against a real edge (in this
// process, on loopback), and the defences that keep them out: the Host check against DNS rebinding, the first-run
// setup code, cross-site writes, hostile cookies, logout, scoped tokens, the pairing preview, malformed input,
// slow clients, headers, and HTTPS with its own certificate.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';

import type { Edge } from '../../src/edge/runtime.ts';
import { startEdge } from '../../src/edge/runtime.ts';
import { validateConfig } from '../../src/shared/config.ts';
import { withoutPaths } from '../../src/shared/http/api.ts';
import { encodePairingCode, type PairingCode } from '../../src/shared/link/pairing-code.ts';
import { createLogger } from '../../src/shared/log.ts';
import { tempDir } from '../helpers.ts';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: () => { error?: { code: string; message: string; issues?: { field: string; message: string }[] } } & Record<
    string,
    unknown
  >;
}

/** One raw request, with exactly the headers given (Host included): what a hostile client can send. */
function raw(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
  ca?: string,
): Promise<Answer> {
  const url = new URL(path, base);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        setHost: false,
        headers: {
          host: url.host,
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(ca ? { ca, servername: 'localhost' } : {}),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const pairingCode = (over: Partial<PairingCode> = {}, tunnel: Partial<NonNullable<PairingCode['tunnel']>> = {}) =>
  encodePairingCode({
    pairingId: 'attack-pairing',
    token: 't'.repeat(43),
    pairUrl: 'http://192.0.2.10:8600/',
    grpc: '10.77.0.1:50051',
    tunnel: {
      vmPublicKey: Buffer.alloc(32, 9).toString('base64'),
      endpoint: '192.0.2.10:51820',
      edgeAddress: '10.77.0.9/24',
      vmAddress: '10.77.0.1',
      ...tunnel,
    },
    ...over,
  });

describe('the edge HTTP API under attack (#20)', function () {
  this.timeout(120_000);
  const dir = tempDir('guardian-http-attack-');
  let edge: Edge;
  let base: string;
  const PASSWORD = 'attack-test-password-1';
  let session = '';
  let csrf = '';
  const asAdmin = () => ({ cookie: `guardian_session=${session}`, 'x-csrf-token': csrf });

  before(async () => {
    edge = await startEdge(
      validateConfig({
        dataDir: join(dir.path, 'data'),
        http: { host: '127.0.0.1', port: 0, allowedHosts: ['guardian.home.arpa'] },
      }),
      { log: createLogger({ level: 'silent' }) },
    );
    base = edge.url;
  });
  after(async () => {
    await edge?.stop();
    dir.remove();
  });

  it('answers 421 to a Host it is not known by (DNS rebinding), before any route or file', async () => {
    for (const host of [
      'evil.example',
      'evil.example:8080',
      '127.0.0.1.nip.io',
      'localhost.evil.example',
      '[::2]',
      'a b',
    ]) {
      for (const path of ['/api/auth/state', '/', '/index.html', '/api/health']) {
        const r = await raw(base, 'GET', path, { host });
        assert.equal(r.status, 421, `${host} ${path}: ${r.status}`);
      }
      const setup = await raw(base, 'POST', '/api/auth/setup', { host }, { password: PASSWORD, setupCode: 'x' });
      assert.equal(setup.status, 421);
    }
    const port = new URL(base).port;
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `${hostname()}.local:${port}`,
      'guardian.home.arpa',
      `GUARDIAN.home.arpa.:${port}`,
      `[::1]:${port}`,
    ])
      assert.equal((await raw(base, 'GET', '/api/auth/state', { host })).status, 200, host);
    assert.equal(edge.ctx.auth.hasAdmin(), false, 'nothing was set up');
  });

  it('first-run setup needs the code from the console, and refuses another Origin', async () => {
    const code = edge.ctx.auth.setupCode();
    assert.match(code ?? '', /^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
    const none = await raw(base, 'POST', '/api/auth/setup', {}, { password: PASSWORD });
    assert.equal(none.status, 400);
    assert.equal(none.json().error?.issues?.[0]?.field, 'setupCode');
    const wrong = await raw(base, 'POST', '/api/auth/setup', {}, { password: PASSWORD, setupCode: 'AAAAA-AAAAA' });
    assert.equal(wrong.status, 403);
    assert.match(wrong.json().error?.message ?? '', /setup code/);
    // A page elsewhere that learned the code still cannot post it: the browser names its origin.
    for (const headers of [{ origin: 'http://evil.example' }, { 'sec-fetch-site': 'cross-site' }] as Record<
      string,
      string
    >[]) {
      const cross = await raw(base, 'POST', '/api/auth/setup', headers, { password: PASSWORD, setupCode: code });
      assert.equal(cross.status, 403, JSON.stringify(headers));
    }
    assert.equal(edge.ctx.auth.hasAdmin(), false);
    const ok = await raw(
      base,
      'POST',
      '/api/auth/setup',
      { origin: base },
      {
        password: PASSWORD,
        setupCode: (code ?? '').toLowerCase().replace('-', ' '),
      },
    );
    assert.equal(ok.status, 200, ok.text);
    assert.equal(edge.ctx.auth.setupCode(), null, 'the code is spent');
    const again = await raw(base, 'POST', '/api/auth/setup', {}, { password: 'another-password-2', setupCode: code });
    assert.equal(again.status, 409);
    const login = await raw(base, 'POST', '/api/auth/login', {}, { password: PASSWORD });
    assert.equal(login.status, 200);
    session = /guardian_session=([^;]+)/.exec(String(login.headers['set-cookie']))?.[1] ?? '';
    csrf = String(login.json().csrf);
    assert.ok(session && csrf);
    // Login from another site is refused too (login CSRF).
    const crossLogin = await raw(
      base,
      'POST',
      '/api/auth/login',
      { origin: 'http://evil.example' },
      { password: PASSWORD },
    );
    assert.equal(crossLogin.status, 403);
  });

  it("another app's malformed cookie does not break the UI", async () => {
    const r = await raw(base, 'GET', '/api/status', {
      cookie: `other=%E0%A4%A; broken; =x; guardian_session=${session}; theme=%ZZ`,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal((await raw(base, 'GET', '/api/auth/state', { cookie: 'x=%' })).status, 200);
  });

  it('logout ends the session even when another cookie name ends in guardian_session', async () => {
    const login = await raw(base, 'POST', '/api/auth/login', {}, { password: PASSWORD });
    const s = /guardian_session=([^;]+)/.exec(String(login.headers['set-cookie']))?.[1] ?? '';
    const c = String(login.json().csrf);
    const cookie = `xguardian_session=decoy; guardian_session=${s}`;
    assert.equal((await raw(base, 'GET', '/api/status', { cookie })).status, 200);
    const out = await raw(base, 'POST', '/api/auth/logout', { cookie, 'x-csrf-token': c });
    assert.equal(out.status, 200);
    assert.equal((await raw(base, 'GET', '/api/status', { cookie: `guardian_session=${s}` })).status, 401);
  });

  it('API tokens: listed without their values, scoped, expiring, revocable, and managed from a login only', async () => {
    const made = await raw(base, 'POST', '/api/auth/tokens', asAdmin(), { name: 'ha', scope: 'read', expiresDays: 30 });
    assert.equal(made.status, 200, made.text);
    const { token, id } = made.json() as unknown as { token: string; id: string };
    const bearer = { authorization: `Bearer ${token}` };
    assert.equal((await raw(base, 'GET', '/api/events', bearer)).status, 200);
    const write = await raw(base, 'PATCH', '/api/config', bearer, { events: { endAfterSeconds: 9 } });
    assert.equal(write.status, 403, 'a read token cannot change anything');
    assert.equal((await raw(base, 'GET', '/api/auth/tokens', bearer)).status, 403, 'a token cannot list tokens');
    const admin = edge.ctx.auth.createApiToken('script');
    const mint = await raw(
      base,
      'POST',
      '/api/auth/tokens',
      { authorization: `Bearer ${admin.token}` },
      { name: 'more' },
    );
    assert.equal(mint.status, 403, 'a token cannot mint tokens');
    const list = await raw(base, 'GET', '/api/auth/tokens', asAdmin());
    assert.equal(list.status, 200);
    assert.ok(!list.text.includes(token) && !list.text.includes(admin.token), 'no token value is listed');
    const listed = (
      list.json() as unknown as { tokens: { id: string; scope: string; expiresMs: number; lastUsedMs: number }[] }
    ).tokens;
    const ha = listed.find((t) => t.id === id);
    assert.ok(ha && ha.scope === 'read' && ha.expiresMs > Date.now() && ha.lastUsedMs > 0, JSON.stringify(ha));
    // Expired: refused.
    edge.ctx.db.prepare('UPDATE api_tokens SET expires_ms = ? WHERE id = ?').run(Date.now() - 1, admin.id);
    assert.equal((await raw(base, 'GET', '/api/events', { authorization: `Bearer ${admin.token}` })).status, 401);
    // Revoked: refused.
    assert.equal((await raw(base, 'DELETE', `/api/auth/tokens/${id}`, asAdmin())).status, 200);
    assert.equal((await raw(base, 'GET', '/api/events', bearer)).status, 401);
    assert.equal((await raw(base, 'DELETE', `/api/auth/tokens/${id}`, asAdmin())).status, 404);
  });

  it('every answer carries a CSP without inline script, and anti-framing headers', async () => {
    for (const path of ['/', '/api/auth/state', '/api/status']) {
      const r = await raw(base, 'GET', path, asAdmin());
      const csp = String(r.headers['content-security-policy']);
      assert.match(csp, /default-src 'self'/, path);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(r.headers['x-frame-options'], 'DENY');
      assert.equal(r.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
    }
  });

  it('pairing: nothing is contacted before the owner confirms, tunnel addresses must be private, no SSRF read-back', async () => {
    // A local "internal service" with something to hide, which a pairing code points at.
    let hits = 0;
    const internal = createHttpServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>INTERNAL-ADMIN-PANEL secret=42</h1>');
    });
    await new Promise<void>((r) => internal.listen(0, '127.0.0.1', r));
    try {
      const port = (internal.address() as { port: number }).port;
      const toInternal = pairingCode({ pairUrl: `http://127.0.0.1:${port}/`, grpc: '127.0.0.1:1', tunnel: null });
      const preview = await raw(base, 'POST', '/api/link/pair/preview', asAdmin(), { code: toInternal });
      assert.equal(preview.status, 200, preview.text);
      assert.equal(preview.json().pairUrl, `http://127.0.0.1:${port}/`);
      const unconfirmed = await raw(base, 'POST', '/api/link/pair', asAdmin(), { code: toInternal });
      assert.equal(unconfirmed.status, 400);
      assert.equal(unconfirmed.json().error?.issues?.[0]?.field, 'confirm');
      assert.equal(hits, 0, 'nothing was contacted before confirmation');
      const confirmed = await raw(base, 'POST', '/api/link/pair', asAdmin(), { code: toInternal, confirm: true });
      assert.equal(confirmed.status, 400);
      assert.equal(hits, 1);
      assert.doesNotMatch(confirmed.text, /INTERNAL|secret=42/, 'the other service answer is not read back');
      assert.equal(edge.ctx.linkState().configured, false);
    } finally {
      internal.close();
    }
    const bad: [string, RegExp][] = [
      [pairingCode({}, { edgeAddress: '8.8.8.9/24', vmAddress: '8.8.8.1' }), /private/],
      [pairingCode({}, { edgeAddress: '10.77.0.9/4' }), /\/16 to \/30/],
      [pairingCode({}, { vmAddress: '10.78.0.1' }), /tunnel's network/],
      [pairingCode({ grpc: '169.254.169.254:80' }), /tunnel address/],
      [pairingCode({}, { vmPublicKey: `${'A'.repeat(43)}=`.replace(/A=$/, 'B=') }), /WireGuard/],
      [pairingCode({ pairUrl: 'file:///etc/passwd' }), /http/],
    ];
    for (const [code, message] of bad) {
      const r = await raw(base, 'POST', '/api/link/pair/preview', asAdmin(), { code });
      assert.equal(r.status, 400, r.text);
      assert.match(r.json().error?.issues?.[0]?.message ?? '', message);
    }
  });

  it('malformed input gets 400 naming the field, never 500', async () => {
    for (const v of ['{"a":1}', '[{},[]]', '[1e400,"x"]', '"s"', '[1,{"x":1}]', 'null', '[1]'].map((j) =>
      Buffer.from(j).toString('base64url'),
    )) {
      const r = await raw(base, 'GET', `/api/events?cursor=${v}`, asAdmin());
      assert.equal(r.status, 400, `${v}: ${r.status} ${r.text}`);
      assert.equal(r.json().error?.issues?.[0]?.field, 'query.cursor');
    }
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const deepArray = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    for (const [method, path] of [
      ['PUT', '/api/config'],
      ['PATCH', '/api/config'],
      ['POST', '/api/cameras'],
      ['POST', '/api/cameras/test'],
    ]) {
      for (const body of [deep, deepArray, `{"cameras":${deep}}`]) {
        const r = await raw(base, method as string, path as string, asAdmin(), body);
        assert.ok(r.status >= 400 && r.status < 500, `${method} ${path}: ${r.status} ${r.text.slice(0, 200)}`);
      }
    }
  });

  it('a client that never finishes its headers is cut off, and error messages hold no absolute path', async () => {
    const { port } = new URL(base);
    const t0 = Date.now();
    const closedAfterMs = await new Promise<number>((resolve) => {
      const s = connect(Number(port), '127.0.0.1', () =>
        s.write('GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '),
      );
      s.on('error', () => undefined);
      s.resume(); // read what the server sends (its 408), so its end is seen
      s.on('close', () => resolve(Date.now() - t0));
    });
    assert.ok(closedAfterMs < 15_000, `cut off after ${closedAfterMs} ms`);
    for (const path of [
      '/api/events/01ABCDEF/clip.mp4',
      '/api/events/..%2F..%2Fetc%2Fpasswd/snapshot.jpg',
      '/api/nope',
    ]) {
      const r = await raw(base, 'GET', path, asAdmin());
      assert.ok(r.status >= 400 && r.status < 500, `${path}: ${r.status}`);
      assert.ok(!r.text.includes(dir.path) && !/\/(tmp|var|home|root|work)\//.test(r.text), r.text);
    }
  });
});

describe('error messages sent to clients (#20)', () => {
  it('hold no absolute file path, but keep API routes, devices and URLs', () => {
    assert.equal(
      withoutPaths("ENOENT: no such file or directory, open '/var/lib/guardian/clips/01AB.mp4'"),
      "ENOENT: no such file or directory, open '…/01AB.mp4'",
    );
    assert.equal(withoutPaths('cannot read /tmp/x/data/recordings/porch/1.mp4: EIO'), 'cannot read …/1.mp4: EIO');
    for (const kept of ['see /api/openapi.json', 'expected /dev/video0', 'rtsp://cam.local/live/main refused'])
      assert.equal(withoutPaths(kept), kept);
  });
});

describe('the edge over HTTPS (#20)', function () {
  this.timeout(120_000);
  const dir = tempDir('guardian-https-');
  let edge: Edge;

  before(async () => {
    edge = await startEdge(
      validateConfig({ dataDir: join(dir.path, 'data'), http: { host: '127.0.0.1', port: 0, tls: { enabled: true } } }),
      { log: createLogger({ level: 'silent' }) },
    );
  });
  after(async () => {
    await edge?.stop();
    dir.remove();
  });

  it('serves TLS with a certificate made at first run, whose fingerprint the UI shows; plain HTTP is redirected', async () => {
    assert.match(edge.url, /^https:\/\//);
    const certFile = join(dir.path, 'data', 'tls', 'cert.pem');
    for (const f of [certFile, join(dir.path, 'data', 'tls', 'key.pem')])
      assert.equal(statSync(f).mode & 0o077, 0, `${f} is private`);
    const { readFileSync } = await import('node:fs');
    const cert = readFileSync(certFile, 'utf8');
    const fingerprint = new X509Certificate(cert).fingerprint256;
    assert.equal(edge.tls?.fingerprint, fingerprint);
    // Verified against that certificate (nothing else is trusted here), for the names in it.
    const state = await raw(edge.url, 'GET', '/api/auth/state', {}, undefined, cert);
    assert.equal(state.status, 200);
    assert.equal(state.json().tlsFingerprint, fingerprint);
    assert.equal(state.headers['strict-transport-security'], 'max-age=31536000');
    // Plain HTTP on the same port: a redirect to HTTPS, for known names only.
    const plain = edge.url.replace('https:', 'http:');
    const redirect = await raw(plain, 'GET', '/#/live');
    assert.equal(redirect.status, 308);
    assert.equal(redirect.headers.location, `${edge.url}/`);
    assert.equal((await raw(plain, 'GET', '/', { host: 'evil.example' })).status, 421);
    // Cookies are Secure over TLS.
    const code = edge.ctx.auth.setupCode();
    const setup = await raw(
      edge.url,
      'POST',
      '/api/auth/setup',
      {},
      { password: 'https-test-password', setupCode: code },
      cert,
    );
    assert.equal(setup.status, 200, setup.text);
    const cookies = ([] as string[]).concat(setup.headers['set-cookie'] ?? []);
    assert.equal(cookies.length, 2);
    for (const c of cookies) assert.match(c, /; Secure/);
  });
});
