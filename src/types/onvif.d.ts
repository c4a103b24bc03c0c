// The parts of the `onvif` package (no bundled types) that Guardian uses.
declare module 'onvif' {
  import type { EventEmitter } from 'node:events';

  type Callback<T> = (err: Error | null, result: T, xml?: string) => void;

  export interface CamOptions {
    hostname: string;
    port?: number;
    path?: string;
    username?: string;
    password?: string;
    timeout?: number;
    autoconnect?: boolean;
    preserveAddress?: boolean;
  }

  export interface OnvifProfile {
    $: { token: string };
    name: string;
    videoEncoderConfiguration?: {
      encoding?: string;
      resolution?: { width: number; height: number };
      rateControl?: { frameRateLimit?: number; bitrateLimit?: number };
    };
  }

  export class Cam extends EventEmitter {
    constructor(options: CamOptions, callback?: Callback<unknown>);
    profiles: OnvifProfile[];
    connect(callback: Callback<unknown>): void;
    getDeviceInformation(
      callback: Callback<{ manufacturer: string; model: string; firmwareVersion: string; serialNumber: string }>,
    ): void;
    getStreamUri(options: { protocol: string; profileToken: string }, callback: Callback<{ uri: string }>): void;
    getSnapshotUri(options: { profileToken: string }, callback: Callback<{ uri: string }>): void;
  }

  export const Discovery: EventEmitter & {
    probe(
      options: { timeout?: number; resolve?: boolean; device?: string },
      callback: (err: unknown, found: unknown[]) => void,
    ): void;
  };

  const onvif: { Cam: typeof Cam; Discovery: typeof Discovery };
  export default onvif;
}
