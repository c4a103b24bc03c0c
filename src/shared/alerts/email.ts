// The e-mail channel: one message per alert through the owner's SMTP server (nodemailer), plain text, with the snapshot
// inline (and a small HTML body to show it) only when the owner chose to attach it. A 4xx reply or a lost connection
// is worth retrying; a 5xx reply (a wrong password, a refused address) is not.
import nodemailer from 'nodemailer';

import { type AlertChannel, type AlertMessage, ChannelError } from './types.ts';

export interface EmailOptions {
  host: string;
  port: number;
  /** implicit TLS (465) */
  secure: boolean;
  /** STARTTLS required */
  requireTls: boolean;
  username?: string | null;
  password?: string | null;
  from: string;
  to: string[];
  attachSnapshot: boolean;
  /** default true */
  rejectUnauthorized?: boolean;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 20_000;
const SNAPSHOT_CID = 'snapshot@guardian';

// The address check browsers use for type=email (WHATWG), but with a dot required in the domain: a real mailbox
// somewhere, or a typo such as me@examplecom caught before the first alert is lost.
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const ADDRESS = new RegExp(`^[A-Za-z0-9.!#$%&'*+/=?^_\`{|}~-]+@${LABEL}(?:\\.${LABEL})+$`);

/** `me@example.com` or `Name <me@example.com>`, checked; the error names the field. */
function parseAddress(value: string, field: string): { name: string; address: string } {
  const named = /^\s*"?([^"<>\r\n]*?)"?\s*<([^<>]*)>\s*$/.exec(value);
  const name = named?.[1] ?? '';
  const address = (named?.[2] ?? value).trim();
  if (!ADDRESS.test(address))
    throw new Error(`${field}: "${value}" is not an e-mail address (expected name@example.com)`);
  return { name, address };
}

function subject(alert: AlertMessage): string {
  const title = alert.title.replace(/[\r\n]+/g, ' ');
  return alert.severity === 'critical' ? `[Guardian] CRITICAL: ${title}` : `[Guardian] ${title}`;
}

function textBody(alert: AlertMessage): string {
  const camera = alert.cameraName ?? alert.cameraId;
  const lines = [
    alert.message,
    '',
    `Time: ${new Date(alert.createdMs).toISOString()}`,
    camera && `Camera: ${camera}`,
    alert.labels.length > 0 && `Labels: ${alert.labels.join(', ')}`,
    alert.zones.length > 0 && `Zones: ${alert.zones.join(', ')}`,
    alert.url && `Open: ${alert.url}`,
  ];
  return `${lines.filter((line) => typeof line === 'string').join('\n')}\n`;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

function htmlBody(text: string): string {
  const paragraphs = text
    .trim()
    .split('\n')
    .map((line) => escapeHtml(line))
    .join('<br>\n');
  return `<p>${paragraphs}</p>\n<p><img src="cid:${SNAPSHOT_CID}" alt="snapshot" style="max-width:100%"></p>\n`;
}

type SmtpError = Error & { code?: string; responseCode?: number };

// Without a reply code, these are the configuration's fault (credentials, addresses, TLS: a bad certificate or a
// server without STARTTLS), and a retry gets the same answer. Everything else (ECONNECTION, ETIMEDOUT, ESOCKET,
// EDNS...) is the network's, and is retried.
const CONFIG_ERRORS = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2', 'ECONFIG', 'EENVELOPE', 'ETLS', 'EREQUIRETLS']);

function isRetryable(err: SmtpError): boolean {
  if (err.responseCode !== undefined) return err.responseCode >= 400 && err.responseCode < 500;
  return !CONFIG_ERRORS.has(err.code ?? '');
}

export function emailChannel(o: EmailOptions): AlertChannel {
  if (!o.host.trim()) throw new Error('host: the SMTP server is not set');
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new Error(`port: ${o.port} is not a TCP port`);
  const from = parseAddress(o.from, 'from');
  if (o.to.length === 0) throw new Error('to: no recipient');
  const to = o.to.map((address) => parseAddress(address, 'to'));
  if (o.password && !o.username) throw new Error('username: a password is set but no username');
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const transport = nodemailer.createTransport({
    host: o.host,
    port: o.port,
    secure: o.secure,
    requireTLS: o.requireTls,
    ...(o.username ? { auth: { user: o.username, pass: o.password ?? '' } } : {}),
    tls: { rejectUnauthorized: o.rejectUnauthorized ?? true },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
  });

  // The server's reply is quoted in nodemailer's messages; one echoing the credentials must not put them in a log.
  const secrets = o.password
    ? [
        o.password,
        Buffer.from(o.password).toString('base64'),
        Buffer.from(`\0${o.username}\0${o.password}`).toString('base64'),
      ]
    : [];
  const redact = (message: string) => secrets.reduce((m, secret) => m.split(secret).join('***'), message);

  const recipients = to.map((r) => r.address).join(', ');
  return {
    name: 'email',
    reveals: o.attachSnapshot
      ? `the alert's text, camera, labels and zones, and the event's picture, to ${recipients} through ${o.host} and the recipients' mail providers`
      : `the alert's text, camera, labels and zones, to ${recipients} through ${o.host} and the recipients' mail providers; no picture`,
    async send(alert, snapshot) {
      const text = textBody(alert);
      // A picture that cannot be read must not stop the alert: it goes without one.
      const jpeg = o.attachSnapshot ? await snapshot().catch(() => null) : null;
      try {
        await transport.sendMail({
          from,
          to,
          subject: subject(alert),
          text,
          ...(jpeg
            ? {
                html: htmlBody(text),
                attachments: [
                  { filename: 'snapshot.jpg', content: jpeg, contentType: 'image/jpeg', cid: SNAPSHOT_CID },
                ],
              }
            : {}),
        });
      } catch (e) {
        const err = e as SmtpError;
        throw new ChannelError(`email: ${redact(err.message)}`, isRetryable(err));
      }
    },
    async close() {
      transport.close();
    },
  };
}
