// ONVIF discovery: a WS-Discovery probe on the local network, then each device's information, media profiles,
// stream and snapshot URIs (with WS-UsernameToken auth), through the maintained `onvif` package.
import onvif, { type Cam } from 'onvif';

import type { CameraInput } from '../cameras/registry.ts';
import { slugify } from '../cameras/registry.ts';

export interface OnvifProbeMatch {
  urn: string;
  xaddrs: string[];
  scopes: string[];
}

export interface OnvifProfileInfo {
  token: string;
  name: string;
  encoding: string | null;
  width: number | null;
  height: number | null;
  fps: number | null;
  streamUri: string | null;
  snapshotUri: string | null;
}

export interface OnvifDevice {
  urn: string;
  xaddr: string;
  manufacturer: string | null;
  model: string | null;
  firmware: string | null;
  serial: string | null;
  profiles: OnvifProfileInfo[];
  /** Why the device could not be inspected (wrong credentials, timeout...), when it could not. */
  error: { code: string; message: string } | null;
  /** Main profile recorded, smallest profile analysed. Credentials are not included: supply the password when adding. */
  camera: CameraInput | null;
}

export interface OnvifOptions {
  timeoutMs?: number;
  /** Network interface to probe on (default: the default route's). */
  interface?: string;
  username?: string;
  password?: string;
}

function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && '_' in v) return String((v as { _: unknown })._);
  return '';
}

/** Sends a WS-Discovery Probe and collects the answers for timeoutMs. */
export function probeOnvif(options: OnvifOptions = {}): Promise<OnvifProbeMatch[]> {
  const { Discovery } = onvif;
  // The library reports malformed answers as 'error' events; without a listener they would throw.
  const ignore = () => undefined;
  Discovery.on('error', ignore);
  return new Promise((resolve) => {
    Discovery.probe(
      {
        timeout: options.timeoutMs ?? 3000,
        resolve: false,
        ...(options.interface ? { device: options.interface } : {}),
      },
      (_errors, found) => {
        Discovery.removeListener('error', ignore);
        const matches: OnvifProbeMatch[] = [];
        for (const item of found as { probeMatches?: { probeMatch?: unknown } }[]) {
          for (const m of asArray(item.probeMatches?.probeMatch) as Record<string, unknown>[]) {
            const urn = text((m.endpointReference as { address?: unknown } | undefined)?.address);
            const xaddrs = text(m.XAddrs).split(/\s+/).filter(Boolean);
            const scopes = text(m.scopes).split(/\s+/).filter(Boolean);
            if (xaddrs.length) matches.push({ urn, xaddrs, scopes });
          }
        }
        resolve(matches);
      },
    );
  });
}

function call<T>(fn: (cb: (err: Error | null, result: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, result) => (err ? reject(err) : resolve(result))));
}

function classify(err: unknown): { code: string; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  if (/not ?authori[sz]ed|401|unauthori[sz]ed/i.test(message)) return { code: 'UNAUTHORIZED', message };
  if (/timeout|timed out|ETIMEDOUT/i.test(message)) return { code: 'TIMEOUT', message };
  if (/ECONNREFUSED/.test(message)) return { code: 'CONNECTION_REFUSED', message };
  return { code: 'PROTOCOL_ERROR', message };
}

/** Reads device information, profiles and URIs from one device service address. */
export async function inspectOnvif(xaddr: string, urn: string, options: OnvifOptions = {}): Promise<OnvifDevice> {
  const url = new URL(xaddr);
  const device: OnvifDevice = {
    urn,
    xaddr,
    manufacturer: null,
    model: null,
    firmware: null,
    serial: null,
    profiles: [],
    error: null,
    camera: null,
  };
  const cam: Cam = new onvif.Cam({
    hostname: url.hostname,
    port: Number(url.port || 80),
    path: url.pathname,
    ...(options.username ? { username: options.username, password: options.password ?? '' } : {}),
    timeout: options.timeoutMs ?? 5000,
    autoconnect: false,
  });
  try {
    await call((cb) => cam.connect(cb));
    const info = await call<{ manufacturer: string; model: string; firmwareVersion: string; serialNumber: string }>(
      (cb) => cam.getDeviceInformation(cb),
    );
    device.manufacturer = text(info.manufacturer) || null;
    device.model = text(info.model) || null;
    device.firmware = text(info.firmwareVersion) || null;
    device.serial = text(info.serialNumber) || null;
    for (const p of cam.profiles ?? []) {
      const token = p.$.token;
      const enc = p.videoEncoderConfiguration;
      const stream = await call<{ uri: string }>((cb) =>
        cam.getStreamUri({ protocol: 'RTSP', profileToken: token }, cb),
      ).catch(() => undefined);
      const snapshot = await call<{ uri: string }>((cb) => cam.getSnapshotUri({ profileToken: token }, cb)).catch(
        () => undefined,
      );
      device.profiles.push({
        token,
        name: text(p.name) || token,
        encoding: enc?.encoding ? text(enc.encoding) : null,
        width: enc?.resolution?.width ? Number(enc.resolution.width) : null,
        height: enc?.resolution?.height ? Number(enc.resolution.height) : null,
        fps: enc?.rateControl?.frameRateLimit ? Number(enc.rateControl.frameRateLimit) : null,
        streamUri: stream ? text(stream.uri) || null : null,
        snapshotUri: snapshot ? text(snapshot.uri) || null : null,
      });
    }
  } catch (err) {
    device.error = classify(err);
    return device;
  }
  const streams = device.profiles
    .filter((p) => p.streamUri)
    .sort((a, b) => (b.width ?? 0) * (b.height ?? 0) - (a.width ?? 0) * (a.height ?? 0));
  const main = streams[0];
  const sub = streams.length > 1 ? streams[streams.length - 1] : undefined;
  if (main?.streamUri) {
    const name = [device.manufacturer, device.model].filter(Boolean).join(' ') || url.hostname;
    device.camera = {
      id: slugify(`${name}-${device.serial ?? url.hostname}`),
      name,
      kind: 'onvif',
      recordUrl: main.streamUri,
      ...(sub?.streamUri && sub.streamUri !== main.streamUri ? { detectUrl: sub.streamUri } : {}),
      ...(main.snapshotUri ? { snapshotUrl: main.snapshotUri } : {}),
      ...(options.username ? { username: options.username } : {}),
      detectFps: 5,
      options: { onvif: xaddr },
    };
  }
  return device;
}

export async function discoverOnvif(options: OnvifOptions = {}): Promise<OnvifDevice[]> {
  const matches = await probeOnvif(options);
  return Promise.all(
    matches.map((m) => {
      const xaddr = m.xaddrs.find((x) => x.startsWith('http')) ?? m.xaddrs[0] ?? '';
      return inspectOnvif(xaddr, m.urn, options);
    }),
  );
}
