// Delivers the outbox to the owner's server. Until the WireGuard/gRPC link exists this posts JSON over HTTP(S) to
// vm.url with the edge's token; at-least-once, in order of priority, with the outbox's backoff on failure.
import type { Logger } from '../../shared/log.ts';
import type { Outbox } from '../events/outbox.ts';

export class OutboxDelivery {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  connected = false;
  lastError: string | null = null;
  delivered = 0;

  constructor(
    private readonly outbox: Outbox,
    private readonly target: { url: string; token?: string } | null,
    private readonly log: Logger,
  ) {}

  start(intervalMs = 1000): void {
    if (!this.target) return;
    this.timer = setInterval(() => void this.pump(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async pump(): Promise<number> {
    if (!this.target || this.running) return 0;
    this.running = true;
    let sent = 0;
    try {
      for (const item of this.outbox.due(50)) {
        try {
          const res = await fetch(new URL('/ingest/outbox', this.target.url), {
            method: 'POST',
            headers: {
              'Content-Type': 'application/json',
              ...(this.target.token ? { Authorization: `Bearer ${this.target.token}` } : {}),
            },
            body: JSON.stringify({ id: item.id, kind: item.kind, ref: item.ref, payload: item.payload }),
            signal: AbortSignal.timeout(5000),
          });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          this.outbox.ack(item.id);
          this.connected = true;
          this.lastError = null;
          sent++;
          this.delivered++;
        } catch (err) {
          const message = (err as Error).message;
          const delay = this.outbox.fail(item.id, message);
          if (this.connected || this.lastError !== message)
            this.log.warn(
              { error: message, retryInMs: Math.round(delay) },
              'cannot reach the owner server; will retry',
            );
          this.connected = false;
          this.lastError = message;
          break; // the server is unreachable: the rest waits for its own backoff
        }
      }
    } finally {
      this.running = false;
    }
    return sent;
  }
}
