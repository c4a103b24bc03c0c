// The Web Push channel (RFC 8030, with VAPID, RFC 8292): a notification in each browser that subscribed to this box,
// through that browser's push service (FCM for Chrome, Mozilla's autopush, Apple's). The payload is encrypted for the
// browser (RFC 8291, aes128gcm): the push service relays it unread. web-push builds the request (encryption and the
// signed VAPID header); we send it with fetch, which also speaks plain http: to a loopback push service in the tests.
// An endpoint is a capability URL (whoever holds it can push to that browser): errors show its origin only.
import webpush from 'web-push';

import { type AlertChannel, ChannelError } from './types.ts';

export interface PushSubscriptionRecord {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** base64url, as web-push makes them: the public key an uncompressed P-256 point, the private key its 32-byte scalar. */
export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

export interface WebPushOptions {
  /** How push services can reach the sender (VAPID `sub`): mailto:owner@example.com or an https: URL. */
  subject: string;
  vapid: VapidKeys;
  subscriptions: () => PushSubscriptionRecord[];
  /** The push service answered 404/410: the browser unsubscribed, so its subscription is dropped. */
  onGone: (endpoint: string) => void;
  ttlSeconds?: number;
  timeoutMs?: number;
}

const DEFAULT_TTL_SECONDS = 3600;
const DEFAULT_TIMEOUT_MS = 10_000;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

export function generateVapidKeys(): VapidKeys {
  const { publicKey, privateKey } = webpush.generateVAPIDKeys();
  return { publicKey, privateKey };
}

/** `value` decoded from base64url if it has exactly `bytes` bytes (and, for a point, the 0x04 uncompressed prefix). */
function keyBytes(value: unknown, field: string, bytes: number, point: boolean): Buffer {
  if (typeof value !== 'string' || value === '') throw new Error(`${field} is missing`);
  if (!BASE64URL.test(value)) throw new Error(`${field} is not base64url`);
  const decoded = Buffer.from(value, 'base64url');
  if (decoded.length !== bytes) throw new Error(`${field} must decode to ${bytes} bytes, not ${decoded.length}`);
  if (point && decoded[0] !== 0x04) throw new Error(`${field} is not an uncompressed P-256 point (0x04...)`);
  return decoded;
}

/** A browser's PushSubscription JSON checked and reduced to what sending needs; throws an Error naming the field. */
export function validatePushSubscription(value: unknown): PushSubscriptionRecord {
  if (typeof value !== 'object' || value === null) throw new Error('the subscription must be an object');
  const { endpoint, keys } = value as { endpoint?: unknown; keys?: unknown };
  if (typeof endpoint !== 'string' || endpoint === '') throw new Error('endpoint is missing');
  if (endpoint.length > 2000) throw new Error('endpoint is longer than 2000 characters');
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error('endpoint is not a valid URL');
  }
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new Error(`endpoint must be an https: URL (not ${url.protocol})`);
  }
  if (url.username || url.password) throw new Error('endpoint must not carry credentials');
  if (typeof keys !== 'object' || keys === null) throw new Error('keys is missing');
  const { p256dh, auth } = keys as { p256dh?: unknown; auth?: unknown };
  keyBytes(p256dh, 'keys.p256dh', 65, true);
  keyBytes(auth, 'keys.auth', 16, false);
  return { endpoint, keys: { p256dh: p256dh as string, auth: auth as string } };
}

function validateSubject(subject: string): void {
  if (/^mailto:[^\s@]+@[^\s@]+$/.test(subject)) return;
  let url: URL | null = null;
  try {
    url = new URL(subject);
  } catch {}
  if (url?.protocol !== 'https:') throw new Error('the push subject must be mailto:you@example.com or an https:// URL');
}

function validateVapid(vapid: VapidKeys): void {
  keyBytes(vapid.publicKey, 'the VAPID public key', 65, true);
  keyBytes(vapid.privateKey, 'the VAPID private key', 32, false);
}

type Outcome = 'delivered' | 'gone';

export function webPushChannel(o: WebPushOptions): AlertChannel {
  validateSubject(o.subject);
  validateVapid(o.vapid);
  const ttl = o.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const vapidDetails = { subject: o.subject, publicKey: o.vapid.publicKey, privateKey: o.vapid.privateKey };

  /** One encrypted POST to one browser's push service; throws a ChannelError that shows the service's origin only. */
  async function push(sub: PushSubscriptionRecord, payload: string, urgency: 'high' | 'normal'): Promise<Outcome> {
    const service = new URL(sub.endpoint).origin;
    let request: webpush.RequestDetails;
    try {
      request = webpush.generateRequestDetails(sub, payload, { vapidDetails, TTL: ttl, urgency });
    } catch (e) {
      // A key web-push cannot use; its message may quote the subscription, so only say where.
      throw new ChannelError(`webpush: could not encrypt for ${service} (${(e as Error).name})`, false);
    }
    const headers: Record<string, string> = {};
    // fetch computes the length itself.
    for (const [name, value] of Object.entries(request.headers)) {
      if (name.toLowerCase() !== 'content-length') headers[name] = String(value);
    }
    let res: Response;
    try {
      res = await fetch(request.endpoint, {
        method: 'POST',
        headers,
        body: request.body ? Uint8Array.from(request.body) : null,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      if (err.name === 'TimeoutError' || err.name === 'AbortError') {
        throw new ChannelError(`webpush: no answer from ${service} within ${timeoutMs / 1000} s`, true);
      }
      // Not err.message: undici's may quote the URL.
      throw new ChannelError(`webpush: could not reach ${service} (${err.cause?.code ?? err.name})`, true);
    }
    await res.body?.cancel().catch(() => {});
    if (res.ok) return 'delivered';
    if (res.status === 404 || res.status === 410) return 'gone';
    const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
    throw new ChannelError(`webpush: ${service} answered ${res.status}`, retryable);
  }

  return {
    name: 'webpush',
    reveals:
      "the alert's title, text and severity, encrypted so only your subscribed browsers can read it; the push service " +
      'of each subscribed browser (Google, Mozilla, Apple) relays it without being able to read it, and learns when ' +
      'alerts happen; no picture',
    async send(alert) {
      const subscriptions = o.subscriptions();
      if (subscriptions.length === 0) throw new ChannelError('no browser has subscribed to push alerts', false);
      const { id, title, message, severity, url, createdMs } = alert;
      const payload = JSON.stringify({ id, title, message, severity, url, createdMs });
      const urgency = severity === 'critical' ? 'high' : 'normal';
      const results = await Promise.allSettled(subscriptions.map((sub) => push(sub, payload, urgency)));
      const failures: ChannelError[] = [];
      let delivered = 0;
      results.forEach((result, i) => {
        if (result.status === 'rejected') {
          failures.push(
            result.reason instanceof ChannelError
              ? result.reason
              : new ChannelError(`webpush: ${(result.reason as Error).name}`, false),
          );
        } else if (result.value === 'gone') o.onGone((subscriptions[i] as PushSubscriptionRecord).endpoint);
        else delivered++;
      });
      if (delivered > 0) return;
      if (failures.length === 0)
        throw new ChannelError('every subscribed browser has unsubscribed from push alerts', false);
      throw new ChannelError(
        failures.map((f) => f.message).join('; '),
        failures.some((f) => f.retryable),
      );
    },
  };
}
