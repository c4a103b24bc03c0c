// Camera URL validation. A camera URL ends up in FFmpeg, so anything that could make it act as something else
// (an option, a local file, a cloud metadata endpoint) is refused with a message saying what is expected.
import { isIP } from 'node:net';

import type { FieldIssue } from '../../shared/errors.ts';

export type CameraKind = 'rtsp' | 'onvif' | 'usb' | 'file';
export type UrlPurpose = 'stream' | 'snapshot';

export interface ParsedUrl {
  /** The URL without user:password. */
  url: string;
  username?: string;
  password?: string;
}

const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f]/;
const METADATA_HOSTS = new Set(['metadata', 'metadata.google.internal', 'metadata.azure.com', 'instance-data']);

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function inV4(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const mask = bits === '0' ? 0 : 2 ** 32 - 2 ** (32 - Number(bits));
  return (ipv4ToInt(ip) & mask) >>> 0 === (ipv4ToInt(base ?? '0.0.0.0') & mask) >>> 0;
}

/** Why a host must not be a camera, or undefined when it may be. */
export function forbiddenHost(hostname: string): string | undefined {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (!host) return 'a host is required';
  if (METADATA_HOSTS.has(host)) return 'cloud metadata endpoints are not cameras';
  const v = isIP(host);
  if (v === 4) {
    if (inV4(host, '169.254.0.0/16')) return 'link-local and metadata addresses (169.254.0.0/16) are not allowed';
    if (host === '100.100.100.200') return 'cloud metadata endpoints are not cameras';
    if (inV4(host, '0.0.0.0/8')) return '0.0.0.0/8 is not a host';
    if (inV4(host, '224.0.0.0/4')) return 'multicast addresses are not cameras';
  } else if (v === 6) {
    if (/^fe[89ab]/.test(host)) return 'link-local addresses (fe80::/10) are not allowed';
    if (host === 'fd00:ec2::254') return 'cloud metadata endpoints are not cameras';
    if (host.startsWith('::ffff:')) return forbiddenHost(host.slice(7));
    if (host === '::') return ':: is not a host';
  }
  return undefined;
}

/** Validates one camera URL; problems are appended to `issues` under `field`. */
export function parseCameraUrl(
  field: string,
  value: unknown,
  kind: CameraKind,
  purpose: UrlPurpose,
  issues: FieldIssue[],
): ParsedUrl | undefined {
  const problem = (message: string) => {
    issues.push({ field, message });
    return undefined;
  };
  if (typeof value !== 'string' || value.length === 0) return problem('expected a non-empty string');
  if (value.length > 2048) return problem('is longer than 2048 characters');
  if (CONTROL_OR_SPACE.test(value)) return problem('must not contain spaces or control characters');
  if (value.startsWith('-')) return problem('must not start with "-"');

  if (purpose === 'stream' && kind === 'file') {
    const path = value.startsWith('file://') ? decodeURIComponent(value.slice('file://'.length)) : value;
    if (!path.startsWith('/')) return problem('expected an absolute file path for a file camera');
    if (path.split('/').includes('..')) return problem('must not contain ".." segments');
    return { url: path };
  }
  if (purpose === 'stream' && kind === 'usb') {
    if (!/^\/dev\/video\d+$/.test(value)) return problem('expected a V4L2 device such as /dev/video0 for a USB camera');
    return { url: value };
  }

  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return problem(
      purpose === 'snapshot' ? 'expected an http:// or https:// URL' : 'expected an rtsp:// or rtsps:// URL',
    );
  }
  const allowed = purpose === 'snapshot' ? ['http:', 'https:'] : ['rtsp:', 'rtsps:'];
  if (!allowed.includes(url.protocol)) {
    if (url.protocol === 'file:') return problem('file: URLs are only allowed for cameras of kind "file"');
    return problem(`expected ${allowed.map((p) => `${p}//`).join(' or ')} but received ${url.protocol}//`);
  }
  const bad = forbiddenHost(url.hostname);
  if (bad) return problem(bad);
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.username = '';
  url.password = '';
  return { url: url.toString(), ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/** Puts credentials back into a URL for the media core; never for display. */
export function withCredentials(url: string, username?: string, password?: string): string {
  if (!username || !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  const u = new URL(url);
  u.username = encodeURIComponent(username);
  if (password) u.password = encodeURIComponent(password);
  return u.toString();
}

/** rtsp://host/x shown as rtsp://***@host/x when the camera has credentials. */
export function displayUrl(url: string, hasCredentials: boolean): string {
  if (!hasCredentials) return url;
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)/i, '$1***@');
}
