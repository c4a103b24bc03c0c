// The ntfy channel (https://docs.ntfy.sh/publish/): a push notification through an ntfy server, ntfy.sh or the owner's
// own. The text goes as the body of a POST to the topic URL; with a snapshot, the JPEG is the body of a PUT and the
// text moves to the Message header. Header values must be ASCII: others are sent RFC 2047-encoded, which ntfy decodes.

import type { AlertChannel, Severity } from './types.ts';
import { channelUrl, deliverHttp } from './webhook.ts';

export interface NtfyOptions {
  /** server base plus topic, e.g. https://ntfy.example/home-alerts */
  url: string;
  token?: string | null;
  attachSnapshot: boolean;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** ntfy's priorities: 5 max (a long vibration, bypasses do-not-disturb on Android), 3 default, 2 low. */
const PRIORITY: Record<Severity, string> = { critical: '5', warning: '4', normal: '3', false_positive: '2' };

/** A header value as is when printable ASCII, else one RFC 2047 encoded word (also for newlines, and a literal "=?"). */
function headerValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) && !value.includes('=?')
    ? value
    : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

export function ntfyChannel(o: NtfyOptions): AlertChannel {
  const target = channelUrl(o.url, 'the ntfy URL');
  if (target.url.pathname.replace(/\/+$/, '') === '') {
    throw new Error('the ntfy URL needs a topic after the server, e.g. https://ntfy.sh/home-alerts');
  }
  if (o.token && !/^[\x21-\x7e]+$/.test(o.token))
    throw new Error('the ntfy token has characters a header cannot carry');
  const authorization = o.token ? `Bearer ${o.token}` : target.basicAuth;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const readers = 'whoever subscribes to the topic (anyone who knows its name, unless the server requires a login)';
  return {
    name: 'ntfy',
    reveals: o.attachSnapshot
      ? `the alert's title, text, severity and labels, and the event's picture, to the ntfy server you set (which keeps the picture for a while) and ${readers}`
      : `the alert's title, text, severity and labels, to the ntfy server you set and ${readers}; no picture`,
    async send(alert, snapshot) {
      const headers: Record<string, string> = {
        Title: headerValue(alert.title),
        Priority: PRIORITY[alert.severity],
        // ntfy splits tags on commas.
        Tags: [alert.severity, ...alert.labels].map((tag) => headerValue(tag.replaceAll(',', ' '))).join(','),
      };
      if (alert.url) headers.Click = headerValue(alert.url);
      if (authorization) headers.Authorization = authorization;
      // A picture that cannot be read must not stop the alert: it goes without one.
      const jpeg = o.attachSnapshot ? await snapshot().catch(() => null) : null;
      if (jpeg) {
        headers.Filename = 'snapshot.jpg';
        headers.Message = headerValue(alert.message);
        headers['Content-Type'] = 'image/jpeg';
        await deliverHttp('ntfy', target, { method: 'PUT', headers, body: jpeg }, timeoutMs);
      } else {
        headers['Content-Type'] = 'text/plain; charset=utf-8';
        await deliverHttp('ntfy', target, { method: 'POST', headers, body: alert.message }, timeoutMs);
      }
    },
  };
}
