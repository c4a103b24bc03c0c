// The Web Push channel against a real push service on 127.0.0.1, written from the RFCs with node:crypto alone: it
// checks each request's VAPID header (RFC 8292: the ES256 JWT verifies with the key it names, for this origin and
// subject, not expired) and decrypts the body as a browser would (RFC 8291 + RFC 8188 aes128gcm) with keys the test
// made for its "browsers". Then: several browsers, an unsubscribed one (410), a failing service, none subscribed, and
// the subscription checks. Failures never show an endpoint's path: it is a capability URL.
import assert from 'node:assert/strict';
import { createDecipheriv, createECDH, createPublicKey, type ECDH, hkdfSync, randomBytes, verify } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';

import { type AlertMessage, ChannelError } from '../../src/shared/alerts/types.ts';
import {
  generateVapidKeys,
  type PushSubscriptionRecord,
  validatePushSubscription,
  webPushChannel,
} from '../../src/shared/alerts/webpush.ts';

const SUBJECT = 'mailto:owner@example.com';

/** A browser's side of a subscription: its P-256 key pair and auth secret; the service knows it by `id`. */
interface Browser {
  id: string;
  ecdh: ECDH;
  auth: Buffer;
  record: PushSubscriptionRecord;
}

interface Received {
  id: string;
  headers: IncomingHttpHeaders;
  /** The decrypted JSON, or why the request was refused (a bad VAPID header, a body that does not decrypt). */
  payload?: unknown;
  refused?: string;
}

const hkdf = (salt: Buffer, ikm: Buffer, info: Buffer, length: number) =>
  Buffer.from(hkdfSync('sha256', ikm, salt, info, length));

/** Throws unless `authorization` is `vapid t=<JWT>, k=<key>` with a valid ES256 JWT for `audience` and SUBJECT. */
function checkVapid(authorization: string | undefined, audience: string, expectedKey: string): void {
  const m = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), k=([\w-]+)$/.exec(authorization ?? '');
  if (!m) throw new Error(`Authorization is not "vapid t=..., k=...": ${authorization}`);
  const [jwt, k] = [m[1] as string, m[2] as string];
  if (k !== expectedKey) throw new Error('k is not the VAPID public key');
  const [header, claims, signature] = jwt.split('.') as [string, string, string];
  const point = Buffer.from(k, 'base64url');
  const key = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33, 65).toString('base64url'),
    },
    format: 'jwk',
  });
  const signed = verify(
    'sha256',
    Buffer.from(`${header}.${claims}`),
    { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'),
  );
  if (!signed) throw new Error('the JWT signature does not verify');
  const h = JSON.parse(Buffer.from(header, 'base64url').toString());
  const c = JSON.parse(Buffer.from(claims, 'base64url').toString());
  if (h.alg !== 'ES256') throw new Error(`JWT alg ${h.alg}`);
  if (c.aud !== audience) throw new Error(`JWT aud ${c.aud}, not ${audience}`);
  if (c.sub !== SUBJECT) throw new Error(`JWT sub ${c.sub}`);
  const now = Date.now() / 1000;
  // RFC 8292: no more than 24 hours ahead.
  if (!(c.exp > now && c.exp <= now + 24 * 3600)) throw new Error(`JWT exp ${c.exp} is not within the next 24 h`);
}

/** The plaintext of an aes128gcm body (one record) for `browser`, as RFC 8291 has the user agent decrypt it. */
function decrypt(body: Buffer, browser: Browser): Buffer {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20] as number;
  const senderPublic = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  if (idlen !== 65 || senderPublic[0] !== 0x04) throw new Error('keyid is not an uncompressed P-256 point');
  if (record.length > rs) throw new Error('more than one record');
  const secret = browser.ecdh.computeSecret(senderPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), browser.ecdh.getPublicKey(), senderPublic]);
  const ikm = hkdf(browser.auth, secret, keyInfo, 32);
  const cek = hkdf(salt, ikm, Buffer.from('Content-Encoding: aes128gcm\0'), 16);
  const nonce = hkdf(salt, ikm, Buffer.from('Content-Encoding: nonce\0'), 12);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(-16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, -16)), decipher.final()]);
  // The last record ends with the delimiter 0x02, then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 0x02) throw new Error('no last-record delimiter');
  return padded.subarray(0, end);
}

/** The loopback push service: /push/<id> answers `status` (201 unless set) after checking and decrypting. */
async function pushService(vapidPublicKey: string) {
  const browsers = new Map<string, Browser>();
  const status = new Map<string, number>();
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = /^\/push\/([\w-]+)$/.exec(req.url ?? '')?.[1] ?? '';
      const browser = browsers.get(id);
      const entry: Received = { id, headers: req.headers };
      received.push(entry);
      try {
        if (!browser || req.method !== 'POST') throw new Error(`${req.method} ${req.url}: no such subscription`);
        checkVapid(req.headers.authorization, origin, vapidPublicKey);
        if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error('Content-Encoding is not aes128gcm');
        entry.payload = JSON.parse(decrypt(Buffer.concat(chunks), browser).toString('utf8'));
      } catch (e) {
        entry.refused = (e as Error).message;
        res.writeHead(400).end();
        return;
      }
      res.writeHead(status.get(id) ?? 201).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const subscribe = (): Browser => {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    // Random like a real service's: the path is the capability errors must not show.
    const id = randomBytes(12).toString('base64url');
    const record = {
      endpoint: `${origin}/push/${id}`,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
    };
    const browser = { id, ecdh, auth, record };
    browsers.set(id, browser);
    return browser;
  };
  return { server, origin, received, status, subscribe };
}

async function rejectsWith(p: Promise<unknown>, retryable: boolean, hidden: string[] = []): Promise<ChannelError> {
  let caught: unknown;
  await p.catch((e) => {
    caught = e;
  });
  assert.ok(caught instanceof ChannelError, `expected a ChannelError, got ${caught}`);
  assert.equal(caught.retryable, retryable, caught.message);
  for (const secret of hidden) assert.ok(!caught.message.includes(secret), `"${caught.message}" shows ${secret}`);
  return caught;
}

const alert: AlertMessage = {
  id: '01JALERT000000000000000001',
  kind: 'object',
  severity: 'critical',
  title: 'Person at Front door',
  message: 'person in driveway at 14:03:12; 2 more in the last 5 minutes',
  createdMs: Date.UTC(2025, 5, 1, 12, 3, 12),
  edgeId: 'edge-1',
  cameraId: 'front',
  cameraName: 'Front door',
  labels: ['person'],
  zones: ['driveway'],
  eventIds: ['ev1'],
  url: '/events/ev1',
};
/** Exactly what a browser may read: no camera, labels, zones or picture. */
const expected = (a: AlertMessage) => ({
  id: a.id,
  title: a.title,
  message: a.message,
  severity: a.severity,
  url: a.url,
  createdMs: a.createdMs,
});
const noSnapshot = async () => {
  throw new Error('snapshot() must not be called: push carries no picture');
};

describe('web push channel against a loopback push service', function () {
  this.timeout(10_000);
  const vapid = generateVapidKeys();
  let service: Awaited<ReturnType<typeof pushService>>;
  const channel = (subscriptions: PushSubscriptionRecord[], gone: string[] = [], ttlSeconds?: number) =>
    webPushChannel({
      subject: SUBJECT,
      vapid,
      subscriptions: () => subscriptions,
      onGone: (endpoint) => gone.push(endpoint),
      ttlSeconds,
      timeoutMs: 5000,
    });
  const receivedBy = (b: Browser) => service.received.filter((r) => r.id === b.id);

  before(async () => {
    service = await pushService(vapid.publicKey);
  });
  after(async () => {
    service.server.closeAllConnections();
    await new Promise((resolve) => service.server.close(resolve));
  });

  it('makes VAPID keys web-push can sign with: a P-256 point and scalar', () => {
    assert.equal(Buffer.from(vapid.publicKey, 'base64url').length, 65);
    assert.equal(Buffer.from(vapid.publicKey, 'base64url')[0], 0x04);
    assert.equal(Buffer.from(vapid.privateKey, 'base64url').length, 32);
    assert.notEqual(generateVapidKeys().privateKey, vapid.privateKey);
  });

  it('sends a critical alert signed with VAPID and encrypted for the browser, urgent, with the default TTL', async () => {
    const browser = service.subscribe();
    const ch = channel([browser.record]);
    assert.equal(ch.name, 'webpush');
    assert.match(ch.reveals, /cannot read|without being able to read/);
    await ch.send(alert, noSnapshot);
    const [got] = receivedBy(browser);
    assert.ok(got, 'nothing arrived');
    assert.equal(got.refused, undefined, got.refused);
    assert.deepEqual(got.payload, expected(alert));
    assert.equal(got.headers.urgency, 'high');
    assert.equal(got.headers.ttl, '3600');
  });

  it('reaches every subscribed browser, each with its own keys; normal urgency below critical', async () => {
    const [a, b] = [service.subscribe(), service.subscribe()];
    const warning: AlertMessage = { ...alert, id: '01JALERT000000000000000002', severity: 'warning', url: null };
    await channel([a.record, b.record], [], 60).send(warning, noSnapshot);
    for (const browser of [a, b]) {
      const got = receivedBy(browser);
      assert.equal(got.length, 1);
      assert.equal(got[0]?.refused, undefined, got[0]?.refused);
      assert.deepEqual(got[0]?.payload, expected(warning));
      assert.equal(got[0]?.headers.urgency, 'normal');
      assert.equal(got[0]?.headers.ttl, '60');
    }
  });

  it('drops a browser that unsubscribed (410) and still delivers to the others', async () => {
    const [stays, left] = [service.subscribe(), service.subscribe()];
    service.status.set(left.id, 410);
    const gone: string[] = [];
    await channel([stays.record, left.record], gone).send(alert, noSnapshot);
    assert.deepEqual(gone, [left.record.endpoint]);
    assert.deepEqual(receivedBy(stays)[0]?.payload, expected(alert));
  });

  it('gives up when every subscribed browser is gone (404/410)', async () => {
    const [a, b] = [service.subscribe(), service.subscribe()];
    service.status.set(a.id, 404);
    service.status.set(b.id, 410);
    const gone: string[] = [];
    await rejectsWith(channel([a.record, b.record], gone).send(alert, noSnapshot), false);
    assert.deepEqual(gone.sort(), [a.record.endpoint, b.record.endpoint].sort());
  });

  it('retries when every push service fails (5xx), naming the service but never the endpoint path', async () => {
    const [a, b] = [service.subscribe(), service.subscribe()];
    service.status.set(a.id, 500);
    service.status.set(b.id, 503);
    const err = await rejectsWith(channel([a.record, b.record]).send(alert, noSnapshot), true, [a.id, b.id, '/push/']);
    assert.ok(err.message.includes(service.origin), err.message);
  });

  it('does not retry a refusal (4xx), and retries an unreachable service, without the path', async () => {
    const refused = service.subscribe();
    service.status.set(refused.id, 403);
    await rejectsWith(channel([refused.record]).send(alert, noSnapshot), false, [refused.id]);

    const probe = createTcpServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const dead = { ...refused.record, endpoint: `http://127.0.0.1:${port}/push/${refused.id}` };
    await rejectsWith(channel([dead]).send(alert, noSnapshot), true, [refused.id, '/push/']);
  });

  it('resolves when one browser fails but another receives', async () => {
    const [ok, failing] = [service.subscribe(), service.subscribe()];
    service.status.set(failing.id, 500);
    await channel([ok.record, failing.record]).send(alert, noSnapshot);
    assert.deepEqual(receivedBy(ok)[0]?.payload, expected(alert));
  });

  it('refuses, without retrying, when no browser has subscribed', async () => {
    const err = await rejectsWith(channel([]).send(alert, noSnapshot), false);
    assert.equal(err.message, 'no browser has subscribed to push alerts');
  });

  it('refuses a subject that is neither mailto: nor https:', () => {
    for (const subject of ['owner@example.com', 'http://example.com', 'mailto:nobody']) {
      assert.throws(() => webPushChannel({ subject, vapid, subscriptions: () => [], onGone: () => {} }), /subject/);
    }
    webPushChannel({ subject: 'https://guardian.example/contact', vapid, subscriptions: () => [], onGone: () => {} });
  });
});

describe('validatePushSubscription', () => {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const good = {
    endpoint: 'https://fcm.googleapis.com/fcm/send/abc123',
    expirationTime: null,
    keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') },
  };
  const refuses = (value: unknown, field: RegExp) => assert.throws(() => validatePushSubscription(value), field);

  it("accepts a browser's PushSubscription JSON and keeps what sending needs", () => {
    assert.deepEqual(validatePushSubscription(good), { endpoint: good.endpoint, keys: good.keys });
    validatePushSubscription({ ...good, endpoint: 'http://127.0.0.1:8123/push/x' });
    validatePushSubscription({ ...good, endpoint: 'http://localhost/push/x' });
  });

  it('refuses an endpoint that is not https: (http: only on loopback)', () => {
    for (const endpoint of ['http://push.example.com/x', 'ftp://push.example.com/x', 'not a url', 'javascript:1']) {
      refuses({ ...good, endpoint }, /^Error: endpoint/);
    }
  });

  it('refuses keys of the wrong length or form, naming the key', () => {
    refuses({ ...good, keys: { ...good.keys, p256dh: good.keys.p256dh.slice(0, 40) } }, /keys\.p256dh.*65 bytes/);
    refuses({ ...good, keys: { ...good.keys, auth: randomBytes(8).toString('base64url') } }, /keys\.auth.*16 bytes/);
    const compressed = Buffer.concat([Buffer.from([0x02]), randomBytes(64)]).toString('base64url');
    refuses({ ...good, keys: { ...good.keys, p256dh: compressed } }, /keys\.p256dh.*uncompressed/);
    refuses({ ...good, keys: { ...good.keys, auth: 'not base64url!!!!!!!!!' } }, /keys\.auth.*base64url/);
  });

  it('refuses missing fields, naming them', () => {
    refuses({ keys: good.keys }, /endpoint is missing/);
    refuses({ endpoint: good.endpoint }, /keys is missing/);
    refuses({ endpoint: good.endpoint, keys: { auth: good.keys.auth } }, /keys\.p256dh is missing/);
    refuses({ endpoint: good.endpoint, keys: { p256dh: good.keys.p256dh } }, /keys\.auth is missing/);
    refuses(null, /subscription/);
  });
});
