// USB (V4L2) camera discovery: capture-capable /dev/video* nodes, named from sysfs and queried through V4L2,
// and a watcher that notices cameras plugged in or removed.
import { existsSync, type FSWatcher, readdirSync, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';

import { queryV4l2, type V4l2DeviceInfo } from '../../../bindings/index.ts';
import type { CameraInput } from '../cameras/registry.ts';
import { slugify } from '../cameras/registry.ts';

export interface UsbCamera {
  device: string;
  name: string;
  driver: string | null;
  busInfo: string | null;
  formats: V4l2DeviceInfo['formats'];
  /** Why the V4L2 query did not answer, when it did not (formats are then unknown). */
  queryError: string | null;
  /** Ready to add to the registry. */
  camera: CameraInput;
}

export interface UsbScanOptions {
  sysfsRoot?: string;
  devRoot?: string;
  query?: (device: string) => Promise<V4l2DeviceInfo>;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export async function listUsbCameras(options: UsbScanOptions = {}): Promise<UsbCamera[]> {
  const sysfs = join(options.sysfsRoot ?? '/sys', 'class', 'video4linux');
  const devRoot = options.devRoot ?? '/dev';
  const query = options.query ?? queryV4l2;
  let nodes: string[];
  try {
    nodes = readdirSync(sysfs).filter((n) => /^video\d+$/.test(n));
  } catch {
    return []; // no V4L2 on this machine
  }
  nodes.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  const found: UsbCamera[] = [];
  for (const node of nodes) {
    const device = join(devRoot, node);
    if (!existsSync(device)) continue;
    const name = readText(join(sysfs, node, 'name')) ?? node;
    let info: V4l2DeviceInfo | undefined;
    let queryError: string | null = null;
    try {
      info = await query(device);
    } catch (err) {
      queryError = (err as Error).message;
    }
    if (info) {
      if (!info.capture) continue; // metadata or output node
    } else if ((readText(join(sysfs, node, 'index')) ?? '0') !== '0') {
      continue; // UVC exposes a metadata node with index 1 beside each capture node
    }
    const title = info?.card || name;
    found.push({
      device,
      name: title,
      driver: info?.driver ?? null,
      busInfo: info?.busInfo ?? null,
      formats: info?.formats ?? [],
      queryError,
      camera: {
        id: slugify(`usb-${title}-${node}`),
        name: title,
        kind: 'usb',
        recordUrl: `/dev/${node}`,
        detectFps: 5,
      },
    });
  }
  return found;
}

export interface UsbChange {
  added: UsbCamera[];
  removed: string[];
}

/** Re-scans when /dev changes and reports cameras that appeared or disappeared. */
export function watchUsbCameras(onChange: (change: UsbChange) => void, options: UsbScanOptions = {}): () => void {
  let known = new Map<string, UsbCamera>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const rescan = async () => {
    const now = await listUsbCameras(options);
    if (closed) return;
    const next = new Map(now.map((c) => [c.device, c]));
    const added = now.filter((c) => !known.has(c.device));
    const removed = [...known.keys()].filter((d) => !next.has(d));
    known = next;
    if (added.length || removed.length) onChange({ added, removed });
  };
  void listUsbCameras(options).then((initial) => {
    known = new Map(initial.map((c) => [c.device, c]));
  });
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(options.devRoot ?? '/dev', (_event, file) => {
      if (file && !String(file).startsWith('video')) return;
      clearTimeout(timer);
      timer = setTimeout(() => void rescan(), 300); // udev creates nodes in bursts
    });
  } catch {
    // no /dev to watch (not Linux): discovery still works on demand
  }
  return () => {
    closed = true;
    clearTimeout(timer);
    watcher?.close();
  };
}
