// The webhook channel: the alert as signed JSON to a URL the owner sets. The signature covers a timestamp and the raw
// body, so a receiver can check it came from this box and was not replayed (an old timestamp, or an alert id already
// seen: a retried delivery keeps its id and gets a fresh timestamp). Also the HTTP plumbing ntfy shares: URL checks,
// timeouts, and which failures are worth retrying, with error messages that never show a token in the URL.
import { createHmac, timingSafeEqual } from 'node:crypto';

import { type AlertChannel, ChannelError } from './types.ts';

export interface WebhookOptions {
  url: string;
  secret: string;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** A channel's URL checked once, with what errors may show of it and its userinfo moved to a header. */
export interface ChannelUrl {
  url: URL;
  /** origin + pathname: the query or userinfo may carry a token. */
  shown: string;
  /** `Basic ...` from user:password@ in the URL (fetch refuses URLs with credentials), or null. */
  basicAuth: string | null;
}

export function channelUrl(raw: string, what: string): ChannelUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${what} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${what} must start with http:// or https:// (not ${url.protocol})`);
  }
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  const basicAuth =
    url.username || url.password
      ? `Basic ${Buffer.from(`${decode(url.username)}:${decode(url.password)}`).toString('base64')}`
      : null;
  url.username = '';
  url.password = '';
  return { url, shown: `${url.origin}${url.pathname}`, basicAuth };
}

/**
 * Sends one request and resolves on a 2xx. Network failures, timeouts, 408, 429 and 5xx are retryable ChannelErrors;
 * other 4xx and redirects (not followed: a signed body or a token must not go where the owner did not point it) are not.
 */
export async function deliverHttp(
  channel: string,
  target: ChannelUrl,
  init: { method: string; headers: Record<string, string>; body: string | Buffer },
  timeoutMs: number,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(target.url, {
      method: init.method,
      headers: init.headers,
      // A copy typed as fetch wants it (a Buffer may sit on a SharedArrayBuffer).
      body: typeof init.body === 'string' ? init.body : Uint8Array.from(init.body),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === 'TimeoutError' || err.name === 'AbortError') {
      throw new ChannelError(`${channel}: no answer from ${target.shown} within ${timeoutMs / 1000} s`, true);
    }
    // undici's own message is "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND, a TLS error).
    // No cause: a request fetch refused to make, whose message may quote a header; its name is enough.
    const why = err.cause?.code ?? err.cause?.message ?? err.name;
    throw new ChannelError(`${channel}: could not reach ${target.shown} (${why})`, true);
  }
  // Not read: only the status matters, and a body could echo the request's query.
  await res.body?.cancel().catch(() => {});
  if (res.ok) return;
  const status = `${channel}: ${target.shown} answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  if (res.status >= 500 || res.status === 408 || res.status === 429) throw new ChannelError(status, true);
  if (res.status >= 300 && res.status < 400) throw new ChannelError(`${status} (a redirect: set the final URL)`, false);
  if (res.status === 401 || res.status === 403) throw new ChannelError(`${status} (check the credentials)`, false);
  throw new ChannelError(status, false);
}

function sign(secret: string, timestamp: string, rawBody: Buffer | string): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
}

export function webhookChannel(o: WebhookOptions): AlertChannel {
  const target = channelUrl(o.url, 'the webhook URL');
  if (!o.secret) throw new Error('the webhook signing secret is empty');
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    name: 'webhook',
    reveals: "the alert's text, camera, labels and zones, to the URL you set; no picture",
    async send(alert) {
      const body = JSON.stringify(alert);
      const timestamp = String(Math.floor(Date.now() / 1000));
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'Guardian',
        'x-guardian-timestamp': timestamp,
        'x-guardian-signature': `sha256=${sign(o.secret, timestamp, body).toString('hex')}`,
        'x-guardian-alert-id': alert.id,
      };
      if (target.basicAuth) headers.authorization = target.basicAuth;
      await deliverHttp('webhook', target, { method: 'POST', headers, body }, timeoutMs);
    },
  };
}

function oneHeader(headers: Record<string, string | string[] | undefined>, name: string): string | null {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    if (typeof value === 'string') return value;
    // A repeated header is ambiguous: refuse rather than pick one.
    return Array.isArray(value) && value.length === 1 ? (value[0] ?? null) : null;
  }
  return null;
}

/**
 * For receivers: whether a request carries a valid signature of `rawBody` (the bytes as received, before any JSON
 * parsing) made with `secret` less than `toleranceSeconds` from now. Also reject alert ids already seen.
 */
export function verifyWebhookSignature(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  rawBody: Buffer | string,
  nowMs = Date.now(),
  toleranceSeconds = 300,
): boolean {
  const timestamp = oneHeader(headers, 'x-guardian-timestamp');
  const signature = /^sha256=([0-9a-f]{64})$/i.exec(oneHeader(headers, 'x-guardian-signature') ?? '')?.[1];
  if (!timestamp || !/^\d{1,12}$/.test(timestamp) || !signature) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  return timingSafeEqual(Buffer.from(signature, 'hex'), sign(secret, timestamp, rawBody));
}
