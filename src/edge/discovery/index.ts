// Discovery of both kinds at once, for the CLI and the API.
import { discoverOnvif, type OnvifDevice } from './onvif.ts';
import { listUsbCameras, type UsbCamera } from './usb.ts';

export interface DiscoveryResult {
  onvif: OnvifDevice[];
  usb: UsbCamera[];
}

export async function discoverAll(opts: {
  timeoutMs: number;
  interface?: string;
  onvif: boolean;
  usb: boolean;
  username?: string;
  password?: string;
}): Promise<DiscoveryResult> {
  const [onvif, usb] = await Promise.all([
    opts.onvif
      ? discoverOnvif({
          timeoutMs: opts.timeoutMs,
          ...(opts.interface ? { interface: opts.interface } : {}),
          ...(opts.username ? { username: opts.username, password: opts.password ?? '' } : {}),
        })
      : [],
    opts.usb ? listUsbCameras() : [],
  ]);
  return { onvif, usb };
}
