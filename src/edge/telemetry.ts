// Telemetry: system (CPU, memory, disk, network) and per-camera figures, a short history for the dashboard, and
// Prometheus metrics at /api/metrics.
import { readFileSync, statfsSync } from 'node:fs';
import { cpus, freemem, totalmem, uptime } from 'node:os';

import { Gauge, Registry } from 'prom-client';

import type { Outbox } from './events/outbox.ts';
import type { MediaProcess } from './media/process.ts';

export interface TelemetrySample {
  t: number;
  cpuPercent: number;
  memoryPercent: number;
  diskPercent: number;
  rxBytesPerSecond: number;
  txBytesPerSecond: number;
  inferenceMs: number | null;
}

function cpuTimes() {
  let idle = 0;
  let total = 0;
  for (const c of cpus()) {
    idle += c.times.idle;
    total += c.times.idle + c.times.user + c.times.sys + c.times.nice + c.times.irq;
  }
  return { idle, total };
}

function networkBytes(): { rx: number; tx: number } {
  try {
    let rx = 0;
    let tx = 0;
    for (const line of readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2)) {
      const [name, rest] = line.split(':');
      if (!rest || name?.trim() === 'lo') continue;
      const f = rest.trim().split(/\s+/).map(Number);
      rx += f[0] ?? 0;
      tx += f[8] ?? 0;
    }
    return { rx, tx };
  } catch {
    return { rx: 0, tx: 0 };
  }
}

export class Telemetry {
  readonly registry = new Registry();
  readonly history: TelemetrySample[] = [];
  private last = { cpu: cpuTimes(), net: networkBytes(), t: Date.now() };
  private timer: NodeJS.Timeout | undefined;
  readonly startedMs = Date.now();

  constructor(
    private readonly dataDir: string,
    private readonly media: MediaProcess,
    private readonly outbox: Outbox,
  ) {
    const g = (name: string, help: string, labelNames: string[] = [], collect?: (this: Gauge) => void) =>
      new Gauge({ name, help, labelNames, registers: [this.registry], ...(collect ? { collect } : {}) });
    const self = this;
    g('guardian_cpu_percent', 'System CPU use', [], function () {
      this.set(self.current().cpuPercent);
    });
    g('guardian_memory_percent', 'System memory use', [], function () {
      this.set(self.current().memoryPercent);
    });
    g('guardian_disk_percent', 'Recordings disk use', [], function () {
      this.set(self.current().diskPercent);
    });
    g('guardian_outbox_length', 'Items waiting to reach the owner server', [], function () {
      this.set(self.outbox.length());
    });
    g('guardian_media_restarts_total', 'Media process restarts', [], function () {
      this.set(self.media.restarts);
    });
    const perCamera = (name: string, help: string, pick: (c: MediaProcess['cameras'][string]) => number | null) =>
      g(name, help, ['camera'], function () {
        this.reset();
        for (const [id, c] of Object.entries(self.media.cameras)) {
          const v = pick(c);
          if (v !== null) this.set({ camera: id }, v);
        }
      });
    perCamera('guardian_camera_online', 'Camera online (1) or not (0)', (c) => (c.status === 'online' ? 1 : 0));
    perCamera('guardian_camera_input_fps', 'Frames per second received', (c) => c.inputFps);
    perCamera('guardian_camera_detection_fps', 'Frames per second analysed by the model', (c) => c.detectFps);
    perCamera(
      'guardian_camera_skipped_fps',
      'Sampled frames per second dropped because analysis was behind',
      (c) => c.skippedFps,
    );
    perCamera('guardian_camera_inference_ms', 'Median inference time', (c) => c.inferenceMs);
    perCamera('guardian_camera_recording', 'Camera recording (1) or not (0)', (c) => (c.recording ? 1 : 0));
  }

  current(): TelemetrySample {
    const now = Date.now();
    const cpu = cpuTimes();
    const net = networkBytes();
    const dt = Math.max(0.001, (now - this.last.t) / 1000);
    const dTotal = cpu.total - this.last.cpu.total;
    const cpuPercent = dTotal > 0 ? 100 * (1 - (cpu.idle - this.last.cpu.idle) / dTotal) : 0;
    let diskPercent = 0;
    try {
      const s = statfsSync(this.dataDir);
      diskPercent = 100 * (1 - Number(s.bavail) / Number(s.blocks));
    } catch {
      // not created yet
    }
    const inf = Object.values(this.media.cameras)
      .map((c) => c.inferenceMs)
      .filter((v): v is number => v !== null);
    const sample: TelemetrySample = {
      t: now,
      cpuPercent: Math.round(cpuPercent * 10) / 10,
      memoryPercent: Math.round((1 - freemem() / totalmem()) * 1000) / 10,
      diskPercent: Math.round(diskPercent * 10) / 10,
      rxBytesPerSecond: Math.round((net.rx - this.last.net.rx) / dt),
      txBytesPerSecond: Math.round((net.tx - this.last.net.tx) / dt),
      inferenceMs: inf.length ? Math.round((inf.reduce((a, b) => a + b, 0) / inf.length) * 10) / 10 : null,
    };
    if (dt >= 1) this.last = { cpu, net, t: now };
    return sample;
  }

  start(intervalSeconds: number): void {
    this.timer = setInterval(() => {
      this.history.push(this.current());
      if (this.history.length > 360) this.history.shift(); // an hour at 10 s
    }, intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  snapshot() {
    return {
      uptimeSeconds: Math.round((Date.now() - this.startedMs) / 1000),
      systemUptimeSeconds: Math.round(uptime()),
      now: this.current(),
      cameras: this.media.cameras,
      outboxLength: this.outbox.length(),
      mediaRestarts: this.media.restarts,
      history: this.history,
    };
  }
}
