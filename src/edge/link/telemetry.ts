// What the edge tells its VM about the link and itself: heartbeats (a Ping whose round trip is the link latency, plus
// the tunnel's handshake age and bytes) and telemetry reports. A heartbeat that fails takes the link down.
import type { PingReply__Output } from '../../shared/link/generated/guardian/edge/v1/PingReply.ts';
import type { PingRequest } from '../../shared/link/generated/guardian/edge/v1/PingRequest.ts';
import type { TelemetryReply__Output } from '../../shared/link/generated/guardian/edge/v1/TelemetryReply.ts';
import type { TelemetryReport } from '../../shared/link/generated/guardian/edge/v1/TelemetryReport.ts';
import type { TunnelStats } from './tunnel.ts';

/** The calls this needs (LinkConnection). */
export interface TelemetryChannel {
  ping(req: PingRequest): Promise<PingReply__Output>;
  pushTelemetry(report: TelemetryReport): Promise<TelemetryReply__Output>;
  down(err: Error): void;
}

/** The edge's own report; the link adds its latency and handshake age. */
export type EdgeReport = Omit<TelemetryReport, 'linkLatencyMs' | 'handshakeAgeSeconds'>;

export class LinkTelemetry {
  latencyMs: number | null = null;
  /** What the server said about this edge at the last report (e.g. archive quota warnings). */
  serverWarnings: string[] = [];
  tunnelStats: TunnelStats = { handshakeAgeSeconds: null, rxBytes: null, txBytes: null };

  constructor(
    private readonly channel: TelemetryChannel,
    private readonly report: () => EdgeReport,
    private readonly tunnel?: { stats(): Promise<TunnelStats> },
  ) {}

  async heartbeat(): Promise<void> {
    const t0 = performance.now();
    try {
      await this.channel.ping({ sentMs: Date.now() });
      this.latencyMs = Math.round((performance.now() - t0) * 100) / 100;
    } catch (err) {
      this.channel.down(err as Error);
    }
    if (this.tunnel) this.tunnelStats = await this.tunnel.stats();
  }

  async send(): Promise<void> {
    const { handshakeAgeSeconds } = this.tunnelStats;
    const reply = await this.channel.pushTelemetry({
      ...this.report(),
      linkLatencyMs: this.latencyMs ?? 0,
      ...(handshakeAgeSeconds !== null ? { handshakeAgeSeconds } : {}),
    });
    this.serverWarnings = reply.warnings ?? [];
  }
}
