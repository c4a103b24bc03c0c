// The webhook, ntfy and e-mail channels against real servers on 127.0.0.1: a node:http receiver that records each
// request (for the webhook, and one playing ntfy) and smtp-server with a login. What arrives is checked as a receiver
// sees it: the signature verifies (and fails when the secret, the body or the time is wrong), ntfy's headers decode
// back, the picture goes only when asked for; failures are classified (retry or give up) and never show a secret.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';

import { SMTPServer } from 'smtp-server';

import { emailChannel } from '../../src/shared/alerts/email.ts';
import { ntfyChannel } from '../../src/shared/alerts/ntfy.ts';
import { type AlertMessage, ChannelError } from '../../src/shared/alerts/types.ts';
import { verifyWebhookSignature, webhookChannel } from '../../src/shared/alerts/webhook.ts';
import { type Recorded, recordingServer } from '../support/http-recorder.ts';

async function closeHttp(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Asserts a ChannelError with that retryability whose message shows none of `secrets`. */
async function rejectsWith(p: Promise<unknown>, retryable: boolean, secrets: string[] = []): Promise<ChannelError> {
  let caught: unknown;
  await p.catch((e) => {
    caught = e;
  });
  assert.ok(caught instanceof ChannelError, `expected a ChannelError, got ${caught}`);
  assert.equal(caught.retryable, retryable, caught.message);
  for (const secret of secrets) assert.ok(!caught.message.includes(secret), `"${caught.message}" shows ${secret}`);
  return caught;
}

const TOKEN = 'tk_q5ecr3t';
const decodeRfc2047 = (v: string) =>
  v.replace(/=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=/gi, (_, b64: string) => Buffer.from(b64, 'base64').toString('utf8'));
// Undoes the soft line breaks and =XX escapes nodemailer uses for the HTML part (not for base64 parts: their "=" differ).
const quotedPrintable = (s: string) =>
  s.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
const header = (r: Recorded, name: string) => {
  const v = r.headers[name];
  assert.equal(typeof v, 'string', `header ${name}`);
  return v as string;
};

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
  labels: ['person', 'car'],
  zones: ['driveway'],
  eventIds: ['ev1', 'ev2'],
  url: 'https://guardian.example/events/ev1',
};
// Not a decodable picture: the channels carry bytes, which must arrive unchanged.
const jpeg = Buffer.concat([
  Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  Buffer.alloc(2000, 0x5a),
  Buffer.from([0xff, 0xd9]),
]);
const noSnapshot = async () => {
  throw new Error('snapshot() must not be called when pictures are not attached');
};

describe('alert channels against real servers', function () {
  this.timeout(10_000);
  let http: Awaited<ReturnType<typeof recordingServer>>;
  const last = () => {
    const r = http.requests.at(-1);
    assert.ok(r, 'no request arrived');
    return r;
  };

  before(async () => {
    http = await recordingServer();
  });
  after(() => closeHttp(http.server));

  describe('webhook', () => {
    const secret = 'whsec-test-secret';

    it('POSTs the alert as JSON, signed so that only the right secret, body and time verify', async () => {
      const channel = webhookChannel({ url: `${http.base}/hook`, secret });
      assert.match(channel.reveals, /no picture/);
      await channel.send(alert, noSnapshot);
      const r = last();
      assert.equal(r.method, 'POST');
      assert.equal(r.path, '/hook');
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['x-guardian-alert-id'], alert.id);
      assert.deepEqual(JSON.parse(r.body.toString('utf8')), alert);
      assert.match(header(r, 'x-guardian-signature'), /^sha256=[0-9a-f]{64}$/);

      const ts = Number(header(r, 'x-guardian-timestamp'));
      assert.ok(Math.abs(ts - Date.now() / 1000) < 5, 'timestamp is now, in seconds');
      assert.equal(verifyWebhookSignature(secret, r.headers, r.body), true);
      assert.equal(verifyWebhookSignature(secret, r.headers, r.body.toString('utf8')), true);
      assert.equal(verifyWebhookSignature('another-secret', r.headers, r.body), false);
      const tampered = r.body.toString('utf8').replace('Front door', 'Back door');
      assert.equal(verifyWebhookSignature(secret, r.headers, tampered), false);
      assert.equal(verifyWebhookSignature(secret, r.headers, r.body, ts * 1000 + 301_000), false, 'expired');
      assert.equal(verifyWebhookSignature(secret, r.headers, r.body, ts * 1000 - 301_000), false, 'from the future');
      assert.equal(verifyWebhookSignature(secret, r.headers, r.body, ts * 1000 + 299_000), true, 'within tolerance');
      const { 'x-guardian-signature': _, ...unsigned } = r.headers;
      assert.equal(verifyWebhookSignature(secret, unsigned, r.body), false, 'no signature');
      const garbled = { ...r.headers, 'x-guardian-signature': 'sha256=zz' };
      assert.equal(verifyWebhookSignature(secret, garbled, r.body), false, 'malformed signature');
    });

    it('retries 5xx, 429 and timeouts but not other 4xx, and never shows the query or userinfo', async () => {
      const url = (path: string) => `${http.base.replace('//', '//user:pw-in-url@')}${path}?token=${TOKEN}`;
      const send = (path: string, timeoutMs?: number) =>
        webhookChannel({ url: url(path), secret, timeoutMs }).send(alert, noSnapshot);
      const hidden = [TOKEN, 'pw-in-url', 'user:'];

      const e500 = await rejectsWith(send('/status/500'), true, hidden);
      assert.ok(e500.message.includes(`${http.base}/status/500`), e500.message);
      assert.equal(last().headers.authorization, `Basic ${Buffer.from('user:pw-in-url').toString('base64')}`);
      await rejectsWith(send('/status/400'), false, hidden);
      await rejectsWith(send('/status/429'), true, hidden);
      await rejectsWith(send('/status/408'), true, hidden);
      await rejectsWith(send('/status/302'), false, hidden);
      const t0 = Date.now();
      const timeout = await rejectsWith(send('/hang', 300), true, hidden);
      assert.ok(Date.now() - t0 < 2000, 'gave up after its timeout');
      assert.match(timeout.message, /no answer/);
      const down = `http://127.0.0.1:${await deadPort()}/hook?token=${TOKEN}`;
      await rejectsWith(webhookChannel({ url: down, secret }).send(alert, noSnapshot), true, hidden);
    });

    it('refuses a URL that is not http(s) when it is made', () => {
      assert.throws(() => webhookChannel({ url: 'ftp://example.com/hook', secret }), /http:\/\/ or https:\/\//);
      assert.throws(() => webhookChannel({ url: 'not a url', secret }), /not a valid URL/);
    });
  });

  describe('ntfy', () => {
    it('POSTs the text with Title, Priority, Tags, Click and Authorization, a non-ASCII title encoded', async () => {
      const title = 'Personne à la Porte d’entrée 🚪';
      const channel = ntfyChannel({ url: `${http.base}/home-alerts`, token: TOKEN, attachSnapshot: false });
      assert.match(channel.reveals, /no picture/);
      await channel.send({ ...alert, title }, noSnapshot);
      const r = last();
      assert.equal(r.method, 'POST');
      assert.equal(r.path, '/home-alerts');
      assert.equal(r.body.toString('utf8'), alert.message);
      assert.match(header(r, 'title'), /^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/, 'sent as an RFC 2047 encoded word');
      assert.equal(decodeRfc2047(header(r, 'title')), title);
      assert.equal(header(r, 'priority'), '5');
      assert.equal(header(r, 'tags'), 'critical,person,car');
      assert.equal(header(r, 'click'), alert.url);
      assert.equal(header(r, 'authorization'), `Bearer ${TOKEN}`);
      assert.equal(r.headers.filename, undefined);

      await channel.send({ ...alert, severity: 'false_positive', labels: [], url: null }, noSnapshot);
      assert.equal(header(last(), 'priority'), '2');
      assert.equal(header(last(), 'tags'), 'false_positive');
      assert.equal(last().headers.click, undefined);
      await ntfyChannel({ url: `${http.base}/t`, attachSnapshot: false }).send(alert, noSnapshot);
      assert.equal(last().headers.authorization, undefined, 'no token, no Authorization');
    });

    it('PUTs the JPEG with Filename and the text in Message only when attaching pictures', async () => {
      const channel = ntfyChannel({ url: `${http.base}/home-alerts`, attachSnapshot: true });
      assert.match(channel.reveals, /picture, to the ntfy server/);
      const message = 'person in driveway at 14:03:12\n2 more — in the last 5 minutes';
      let reads = 0;
      await channel.send({ ...alert, severity: 'warning', message }, async () => {
        reads++;
        return jpeg;
      });
      assert.equal(reads, 1);
      const r = last();
      assert.equal(r.method, 'PUT');
      assert.equal(header(r, 'filename'), 'snapshot.jpg');
      assert.equal(header(r, 'priority'), '4');
      assert.equal(decodeRfc2047(header(r, 'message')), message);
      assert.deepEqual(r.body, jpeg);

      await channel.send(alert, async () => null);
      assert.equal(last().method, 'POST', 'no snapshot: the text alone');
      assert.equal(last().body.toString('utf8'), alert.message);
    });

    it('classifies failures like the webhook and never shows the token in the URL', async () => {
      const send = (path: string, timeoutMs?: number) =>
        ntfyChannel({ url: `${http.base}${path}?auth=${TOKEN}`, attachSnapshot: false, timeoutMs }).send(
          alert,
          noSnapshot,
        );
      await rejectsWith(send('/status/500'), true, [TOKEN]);
      await rejectsWith(send('/status/403'), false, [TOKEN]);
      await rejectsWith(send('/status/429'), true, [TOKEN]);
      await rejectsWith(send('/hang', 300), true, [TOKEN]);
      assert.throws(() => ntfyChannel({ url: http.base, attachSnapshot: false }), /needs a topic/);
    });
  });

  describe('e-mail', () => {
    const username = 'guardian';
    const password = 'correct-horse-battery';
    const received: { from: string; to: string[]; raw: string }[] = [];
    let smtp: SMTPServer;
    let port: number;
    const options = {
      host: '127.0.0.1',
      // TLS is not exercised here: a loopback server without STARTTLS, and the channel not requiring it.
      secure: false,
      requireTls: false,
      username,
      password,
      from: 'Guardian <guardian@home.example>',
      to: ['owner@example.com', 'partner@example.org'],
      timeoutMs: 3000,
    };

    before(async () => {
      smtp = new SMTPServer({
        secure: false,
        disabledCommands: ['STARTTLS'],
        allowInsecureAuth: true,
        authOptional: false,
        logger: false,
        closeTimeout: 200,
        onAuth(auth, _session, callback) {
          if (auth.username === username && auth.password === password) callback(null, { user: username });
          else callback(new Error('Invalid username or password'));
        },
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            received.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              raw: Buffer.concat(chunks).toString('utf8'),
            });
            callback();
          });
        },
      });
      await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
      port = (smtp.server.address() as AddressInfo).port;
    });
    after(() => new Promise<void>((resolve) => smtp.close(() => resolve())));

    it('sends the subject, recipients and text, without a picture unless asked', async () => {
      const channel = emailChannel({ ...options, port, attachSnapshot: false });
      assert.match(channel.reveals, /no picture/);
      await channel.send(alert, noSnapshot);
      await channel.close?.();
      const mail = received.at(-1);
      assert.ok(mail);
      assert.equal(mail.from, 'guardian@home.example');
      assert.deepEqual(mail.to, options.to);
      assert.match(mail.raw, /^Subject: \[Guardian\] CRITICAL: Person at Front door\r$/m);
      assert.match(mail.raw, /^To: owner@example\.com, partner@example\.org\r$/m);
      for (const line of [
        alert.message,
        'Time: 2025-06-01T12:03:12.000Z',
        'Camera: Front door',
        'Labels: person, car',
        'Zones: driveway',
        `Open: ${alert.url}`,
      ]) {
        assert.ok(mail.raw.includes(line), `the text has "${line}"`);
      }
      assert.ok(!mail.raw.includes('image/jpeg'), 'no attachment');

      const normal = emailChannel({ ...options, port, attachSnapshot: false });
      await normal.send({ ...alert, severity: 'warning' }, noSnapshot);
      assert.match(received.at(-1)?.raw ?? '', /^Subject: \[Guardian\] Person at Front door\r$/m);
      await normal.close?.();
    });

    it('attaches the JPEG inline, with an HTML body showing it, when asked', async () => {
      const channel = emailChannel({ ...options, port, attachSnapshot: true });
      assert.match(channel.reveals, /picture/);
      assert.doesNotMatch(channel.reveals, /no picture/);
      await channel.send(alert, async () => jpeg);
      await channel.close?.();
      const raw = received.at(-1)?.raw ?? '';
      assert.ok(quotedPrintable(raw).includes('<img src="cid:snapshot@guardian"'), 'the HTML shows the picture');
      const part = /Content-Type: image\/jpeg;[^]*?\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--/.exec(raw);
      assert.ok(part?.[1], 'a JPEG part');
      assert.match(raw, /Content-ID: <snapshot@guardian>/);
      assert.match(raw, /filename=snapshot\.jpg/);
      assert.deepEqual(Buffer.from(part[1].replace(/\r\n/g, ''), 'base64'), jpeg);
    });

    it('gives up on a wrong password without showing it, and retries a server that is down', async () => {
      const wrong = 'not-the-password-123';
      const rejected = emailChannel({ ...options, port, password: wrong, attachSnapshot: false });
      const e = await rejectsWith(rejected.send(alert, noSnapshot), false, [wrong, password]);
      assert.match(e.message, /535|auth/i);
      await rejected.close?.();

      const down = emailChannel({ ...options, port: await deadPort(), attachSnapshot: false });
      await rejectsWith(down.send(alert, noSnapshot), true, [password]);
      await down.close?.();
    });

    it('refuses malformed addresses when it is made, naming the field', () => {
      const make = (o: Partial<typeof options>) => () =>
        emailChannel({ ...options, port, attachSnapshot: false, ...o });
      assert.throws(make({ to: ['owner@example.com', 'nobody'] }), /^Error: to: "nobody"/);
      assert.throws(make({ to: ['me@examplecom'] }), /to:/);
      assert.throws(make({ from: 'guardian at home' }), /^Error: from:/);
      assert.throws(make({ to: [] }), /to: no recipient/);
    });
  });
});
