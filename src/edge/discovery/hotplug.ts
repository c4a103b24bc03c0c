// USB hot-plug on the running edge: a camera plugged in is offered for adding (or, if it is already a camera,
// reconnected at once); one unplugged shows offline through its supervisor, and is forgotten as an offer.

import type { Logger } from '../../shared/log.ts';
import type { CameraRegistry } from '../cameras/registry.ts';
import { listUsbCameras, type UsbCamera, type UsbScanOptions, watchUsbCameras } from './usb.ts';

export interface OfferedCamera {
  device: string;
  name: string;
  driver: string | null;
  formats: UsbCamera['formats'];
  /** The entry to POST to /api/cameras to add it. */
  camera: UsbCamera['camera'];
}

export class UsbHotplug {
  private readonly present = new Map<string, UsbCamera>();
  private stopWatch: (() => void) | undefined;

  constructor(
    private readonly registry: CameraRegistry,
    private readonly reconnect: (cameraId: string) => Promise<void>,
    private readonly log: Logger,
    private readonly scan: UsbScanOptions = {},
  ) {}

  async start(): Promise<void> {
    for (const c of await listUsbCameras(this.scan)) this.present.set(c.device, c);
    this.stopWatch = watchUsbCameras((change) => {
      for (const device of change.removed) {
        this.present.delete(device);
        const cam = this.cameraOn(device);
        if (cam) this.log.warn({ camera: cam, device }, 'USB camera unplugged');
      }
      for (const c of change.added) {
        this.present.set(c.device, c);
        const cam = this.cameraOn(c.device);
        if (cam) {
          this.log.info({ camera: cam, device: c.device }, 'USB camera plugged in again; reconnecting');
          void this.reconnect(cam);
        } else
          this.log.info({ device: c.device, name: c.name }, 'new USB camera plugged in: add it on the Cameras page');
      }
    }, this.scan);
  }

  stop(): void {
    this.stopWatch?.();
  }

  /** Cameras plugged in here that are not added yet. */
  offered(): OfferedCamera[] {
    return [...this.present.values()]
      .filter((c) => !this.cameraOn(c.device))
      .map((c) => ({ device: c.device, name: c.name, driver: c.driver, formats: c.formats, camera: c.camera }));
  }

  private cameraOn(device: string): string | undefined {
    const node = device.split('/').pop();
    return this.registry.list().find((c) => c.kind === 'usb' && c.recordUrl.split('/').pop() === node)?.id;
  }
}
