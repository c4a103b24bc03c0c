// Camera URL validation. A camera URL ends up in FFmpeg, so anything that could make it act as something else
// (an option, a local file, a cloud metadata endpoint, the appliance's own services) is refused with a message saying
// what is expected. Hosts are parsed as the C resolver reads them (hosts.ts); names are resolved and checked by
// checkCameraHosts at add/update and again at every connection (the supervisor pins the checked address).
import { realpathSync, statSync } from 'node:fs';
import { sep } from 'node:path';

import type { Config } from '../../shared/config.ts';
import type { FieldIssue, GuardianError } from '../../shared/errors.ts';
import { sharedPath } from '../../shared/paths.ts';
import { forbiddenHost, type HostPurpose, parseHost, type Resolver, resolveHost, urlHost } from './hosts.ts';

export { forbiddenHost } from './hosts.ts';

export type CameraKind = 'rtsp' | 'onvif' | 'usb' | 'file';
export type UrlPurpose = 'stream' | 'snapshot';

export interface ParsedUrl {
  /** The URL without user:password (an IP host in its canonical form). */
  url: string;
  username?: string;
  password?: string;
}

/** What the configuration (cameraSources) allows cameras to be. */
export interface CameraPolicy {
  /** Folders file cameras may read, besides the demo's sample media folder. */
  mediaDirs: readonly string[];
  /** Refuse credentials over plain rtsp:// instead of warning. */
  refusePlainRtspCredentials: boolean;
}

export const defaultCameraPolicy: CameraPolicy = { mediaDirs: [], refusePlainRtspCredentials: false };

export function cameraPolicy(config: Pick<Config, 'cameraSources'>): CameraPolicy {
  const c = config.cameraSources ?? defaultCameraPolicy; // a hand-built configuration may lack the section
  return { mediaDirs: c.mediaDirs, refusePlainRtspCredentials: c.refusePlainRtspCredentials };
}

/** The folders a file camera may read: the demo's sample media, then cameraSources.mediaDirs. */
export function mediaFolders(policy: CameraPolicy): string[] {
  return [sharedPath('media'), ...policy.mediaDirs];
}

const CONTROL_OR_SPACE = /[\u0000-\u0020\u007f]/;

/** One message for a file that is missing, unreadable, not a file or outside the folders: none reveals which. */
export const FILE_REFUSED =
  'is not a video file in the folders file cameras may read (the demo sample, and cameraSources.mediaDirs)';

/** Whether `path`, symbolic links resolved, is a regular file inside one of the policy's folders. */
export function fileAllowed(path: string, policy: CameraPolicy): boolean {
  let real: string;
  try {
    real = realpathSync(path);
    if (!statSync(real).isFile()) return false;
  } catch {
    return false;
  }
  for (const dir of mediaFolders(policy)) {
    let root: string;
    try {
      root = realpathSync(dir);
    } catch {
      continue;
    }
    if (real.startsWith(root.endsWith(sep) ? root : root + sep)) return true;
  }
  return false;
}

/** Validates one camera URL; problems are appended to `issues` under `field`. */
export function parseCameraUrl(
  field: string,
  value: unknown,
  kind: CameraKind,
  purpose: UrlPurpose,
  issues: FieldIssue[],
  policy: CameraPolicy = defaultCameraPolicy,
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
    let path = value;
    try {
      if (value.startsWith('file://')) path = decodeURIComponent(value.slice('file://'.length));
    } catch {
      return problem('expected an absolute file path for a file camera');
    }
    if (!path.startsWith('/')) return problem('expected an absolute file path for a file camera');
    if (path.split('/').includes('..')) return problem('must not contain ".." segments');
    if (!fileAllowed(path, policy)) return problem(FILE_REFUSED);
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
  const bad = forbiddenHost(url.hostname, purpose);
  if (bad) return problem(bad);
  const host = parseHost(url.hostname);
  if (typeof host !== 'string') url.hostname = host.ip ? urlHost(host.ip) : host.name; // 0xc0.0xa8.1.9 -> 192.168.1.9
  let username: string | undefined;
  let password: string | undefined;
  try {
    username = url.username ? decodeURIComponent(url.username) : undefined;
    password = url.password ? decodeURIComponent(url.password) : undefined;
  } catch {
    return problem('the user name or password in the URL is not valid percent-encoding');
  }
  url.username = '';
  url.password = '';
  return { url: url.toString(), ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/** scheme://host:port of a network URL (the port made explicit), or the whole value for a path. Credentials belong
 *  to an origin: when it changes, they are not sent to the new one. */
export function urlOrigin(url: string): string {
  const defaults: Record<string, string> = { 'rtsp:': '554', 'rtsps:': '322', 'http:': '80', 'https:': '443' };
  try {
    const u = new URL(url);
    if (!u.host) return url;
    return `${u.protocol}//${u.hostname.toLowerCase()}:${u.port || defaults[u.protocol] || ''}`;
  } catch {
    return url;
  }
}

/**
 * Resolves the names of a camera's network URLs and checks every address (hosts.ts). `issues`: fields whose host is
 * somewhere a camera must not be (refused); `warnings`: names that do not resolve now (accepted: a camera that is
 * switched off may leave the network's DNS; every connection resolves and checks again).
 */
export async function checkCameraHosts(
  urls: { field: string; url: string | null | undefined; purpose: HostPurpose }[],
  resolve?: Resolver,
): Promise<{ issues: FieldIssue[]; warnings: string[] }> {
  const issues: FieldIssue[] = [];
  const warnings: string[] = [];
  await Promise.all(
    urls.map(async ({ field, url, purpose }) => {
      if (!url || !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return;
      try {
        await resolveHost(new URL(url).hostname, purpose, resolve);
      } catch (err) {
        const e = err as GuardianError;
        if (e.code === 'FORBIDDEN') issues.push({ field, message: e.message });
        else warnings.push(`${field}: ${e.message}; it is resolved again at each connection`);
      }
    }),
  );
  issues.sort((a, b) => a.field.localeCompare(b.field));
  return { issues, warnings: warnings.sort() };
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
