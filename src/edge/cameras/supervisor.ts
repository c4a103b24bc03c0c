// Keeps one camera connected: opens it through the media core, watches for stalls, reconnects with capped
// exponential backoff and jitter, and measures what arrives (fps, bitrate). Status: connecting/online/offline/error.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';

import { type Frame, MediaError, type MediaSource, openSource, type SourceOptions } from '../../../bindings/index.ts';
import { type BackoffOptions, backoffDelay } from '../../shared/backoff.ts';
import type { Logger } from '../../shared/log.ts';
import { pinUrl, type Resolver } from './hosts.ts';
import type { CameraConnection, CameraHealth, CameraStatus } from './registry.ts';

export interface SupervisorOptions {
  stallTimeoutMs: number;
  connectTimeoutMs: number;
  /** Reconnection delays; jitter (e.g. 0.2) keeps cameras from reconnecting in lockstep. */
  backoff: BackoffOptions;
  /** Extra media-core options for analysis (tensor, motion plane). */
  source?: SourceOptions;
  onFrame?: (frame: Frame, source: MediaSource, cameraId: string) => void | Promise<void>;
  /** detect (default): the analysed stream, decoded; record: the main stream, recorded only, never decoded. */
  stream?: 'detect' | 'record';
  /** Recording options for this stream's source (from RecordingService.sourceOptions). */
  record?: () => Pick<SourceOptions, 'record' | 'onRecord'>;
  /** How camera host names are resolved before each connection (the system's resolver; tests give their own). */
  resolve?: Resolver;
}

export const defaultSupervisorOptions: SupervisorOptions = {
  stallTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  backoff: { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 },
};

// Errors that need the owner to change something; the camera is still retried, at the slowest rate.
const NEEDS_ATTENTION = new Set([
  'UNAUTHORIZED',
  'FORBIDDEN', // the host resolves somewhere a camera must not be
  'NOT_FOUND',
  'PERMISSION_DENIED',
  'UNSUPPORTED_CODEC',
  'UNSUPPORTED_INPUT',
]);

/** The health of a camera nothing is known about yet. */
export const newHealth = (status: CameraStatus): CameraHealth => ({
  status,
  lastSeen: null,
  lastError: null,
  lastErrorCode: null,
  reconnects: 0,
  inputFps: null,
  bitrateKbps: null,
});

export class CameraSupervisor extends EventEmitter {
  private stopped = true;
  private source: MediaSource | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private state: CameraHealth = newHealth('connecting');

  constructor(
    readonly connection: CameraConnection,
    private readonly options: SupervisorOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  health(): CameraHealth {
    return { ...this.state };
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.source?.close();
    await this.loop;
  }

  private update(patch: Partial<CameraHealth>): void {
    const before = this.state.status;
    this.state = { ...this.state, ...patch };
    if (patch.status && patch.status !== before) {
      // The camera id comes with the logger (a child logger per camera).
      const fields = { status: patch.status, from: before };
      if (patch.status === 'online') this.log.info(fields, 'camera online');
      else if (patch.status === 'connecting') this.log.debug(fields, 'camera connecting');
      else
        this.log.warn(
          { ...fields, code: this.state.lastErrorCode, error: this.state.lastError },
          `camera ${patch.status}`,
        );
    }
    this.emit('health', this.health());
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      const wasOnline = await this.connectOnce();
      if (this.stopped) break;
      if (wasOnline) attempt = 0;
      const delay = backoffDelay(attempt++, this.options.backoff);
      this.update({ reconnects: this.state.reconnects + 1 });
      this.log.debug({ delayMs: delay }, 'reconnecting after delay');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    this.update({ status: this.state.status === 'online' ? 'offline' : this.state.status });
  }

  /** One connection, from open to failure. Returns whether it delivered frames. */
  private async connectOnce(): Promise<boolean> {
    const c = this.connection;
    const file = c.kind === 'file';
    this.update({ status: 'connecting' });
    let online = false;
    let stalled = false;
    let watchdog: NodeJS.Timeout | undefined;
    try {
      const transport = c.options.transport === 'udp' ? 'udp' : 'tcp';
      const given = this.options.stream === 'record' ? c.recordUrl : c.detectUrl;
      // Network cameras: the host is resolved and every address checked now, and the media core gets the checked
      // address, so a name that changes after the check (DNS rebinding) cannot lead the connection elsewhere.
      const url = file || c.kind === 'usb' ? given : (await pinUrl(given, 'stream', this.options.resolve)).url;
      if (this.stopped) return false;
      this.source = await openSource(url, {
        ...this.options.source,
        ...(this.options.record ? this.options.record() : {}),
        decode: this.options.stream !== 'record',
        fps: c.detectFps,
        transport,
        connectTimeoutMs: this.options.connectTimeoutMs,
        readTimeoutMs: this.options.stallTimeoutMs,
        // A file camera (demos, tests) plays in real time and loops, like a live stream. With options.realtime false
        // it plays as fast as decoding and detection take it, every sampled frame analysed (accelerated soaks).
        backpressure: file && c.options.realtime === false ? 'wait' : 'drop',
        realtime: file && c.options.realtime !== false,
        loop: file && c.options.loop !== false,
      });
      if (this.stopped) return false;
      const src = this.source;
      const markOnline = () => {
        if (online) return;
        online = true;
        this.update({ status: 'online', lastSeen: Date.now(), lastError: null, lastErrorCode: null });
      };
      let last = { t: performance.now(), decoded: 0, bytes: 0, packets: 0 };
      // Stall detection: no packet for stallTimeoutMs closes the source, which ends the read loop.
      watchdog = setInterval(() => {
        const s = src.stats();
        const now = performance.now();
        const lastPacket = s.lastPacketWallMs ?? 0;
        if (online && Date.now() - lastPacket > this.options.stallTimeoutMs) {
          stalled = true;
          void src.close();
          return;
        }
        // A record-only stream delivers no frames: packets arriving are what makes it online.
        if (s.videoPackets > 0) markOnline();
        const dt = (now - last.t) / 1000;
        if (dt >= 1.9) {
          this.update({
            inputFps: Math.round(((s.videoPackets - last.packets) / dt) * 10) / 10,
            bitrateKbps: Math.round(((s.bytes - last.bytes) * 8) / dt / 100) / 10,
            lastSeen: lastPacket > 0 ? Math.round(lastPacket) : this.state.lastSeen,
          });
          last = { t: now, decoded: s.decoded, bytes: s.bytes, packets: s.videoPackets };
        }
      }, 500);
      for await (const frame of src) {
        markOnline();
        this.state.lastSeen = Date.now();
        if (this.options.onFrame) {
          try {
            await this.options.onFrame(frame, src, c.id);
          } catch (err) {
            // Analysis failing must not take the camera down.
            this.log.error({ err }, 'frame handler failed');
          }
        }
      }
      if (this.stopped) return online;
      throw stalled
        ? new MediaError('TIMEOUT', `${src.label}: no data for ${this.options.stallTimeoutMs} ms (stalled)`)
        : new MediaError('PROTOCOL_ERROR', `${src.label}: stream ended`);
    } catch (err) {
      if (this.stopped) return online;
      const e = err as { code?: string; message?: string };
      const code = stalled ? 'TIMEOUT' : (e.code ?? 'MEDIA_ERROR');
      // A USB camera whose device node is gone was unplugged: offline (it comes back when plugged in), not an error.
      const unplugged = this.connection.kind === 'usb' && !existsSync(this.connection.recordUrl);
      const status: CameraStatus = !unplugged && NEEDS_ATTENTION.has(code) ? 'error' : 'offline';
      const lastError = unplugged ? `${this.connection.recordUrl} is unplugged` : (e.message ?? String(err));
      this.update({ status, lastError, lastErrorCode: unplugged ? 'UNPLUGGED' : code });
      return online;
    } finally {
      clearInterval(watchdog);
      await this.source?.close();
      this.source = undefined;
    }
  }
}
