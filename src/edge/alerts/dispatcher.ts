// Delivers stored alerts through their channels: each pending delivery when it is due, at most `perMinute` a minute per
// channel (the rest wait their turn), retried with growing delays while the channel fails, given up after
// `retryHours` or at once on an error retrying cannot fix. Deliveries are rows (AlertStore), so a restart, a channel
// down for hours or a burst loses none of them.
import { EventEmitter } from 'node:events';

import { type AlertChannel, type AlertMessage, ChannelError, type ChannelName } from '../../shared/alerts/types.ts';
import { type BackoffOptions, backoffDelay } from '../../shared/backoff.ts';
import type { Logger } from '../../shared/log.ts';
import type { AlertStore, StoredAlert } from './store.ts';

export interface DispatchLimits {
  perMinute: (channel: ChannelName) => number;
  retryHours: () => number;
}

const RETRY: BackoffOptions = { initialMs: 5_000, maxMs: 10 * 60_000, factor: 2, jitter: 0.2 };

export interface DispatcherDeps {
  store: AlertStore;
  channel: (name: ChannelName) => AlertChannel | undefined;
  message: (a: StoredAlert) => AlertMessage;
  /** The JPEG of the alert's event, for channels that attach it (null: none). */
  snapshot: (a: StoredAlert) => Promise<Buffer | null>;
  limits: DispatchLimits;
  log: Logger;
  now?: () => number;
}

/** Emits 'delivered' (alert, channel, ms from the alert to delivery) and 'failed' (alert, channel, error). */
export class AlertDispatcher extends EventEmitter {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  /** Send times in the last minute, per channel. */
  private readonly recent = new Map<ChannelName, number[]>();
  private readonly now: () => number;

  constructor(private readonly d: DispatcherDeps) {
    super();
    this.now = d.now ?? Date.now;
  }

  start(): void {
    this.stopped = false;
    this.kick();
  }

  /** Something is due now (a new alert, a channel reconfigured). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.pass()
      .catch((err) => this.d.log.error({ err }, 'alert delivery pass failed'))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        } else this.schedule();
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Resolves once nothing is being sent (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    const next = this.d.store.nextDueMs();
    if (next === null) return;
    // At most a minute asleep: a clock change or a missed kick costs no more than that.
    const delay = Math.min(Math.max(next - this.now(), 0), 60_000);
    this.timer = setTimeout(() => this.kick(), delay);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    const due = this.d.store.due(this.now(), 200);
    const byChannel = new Map<ChannelName, typeof due>();
    for (const x of due) byChannel.set(x.channel, [...(byChannel.get(x.channel) ?? []), x]);
    // Channels in parallel (a slow SMTP server does not hold up the webhook), each channel's alerts in order.
    await Promise.all(
      [...byChannel].map(async ([name, items]) => {
        for (const item of items) {
          if (this.stopped) return;
          await this.deliver(name, item.alertId, item.attempts, item.createdMs);
        }
      }),
    );
  }

  private async deliver(name: ChannelName, alertId: string, attempts: number, createdMs: number): Promise<void> {
    const { store, log } = this.d;
    const alert = store.get(alertId);
    if (!alert) return;
    const channel = this.d.channel(name);
    if (!channel) {
      store.attemptFailed(alertId, name, 'the channel is turned off or not configured', null);
      return;
    }
    const now = this.now();
    const window = (this.recent.get(name) ?? []).filter((t) => t > now - 60_000);
    this.recent.set(name, window);
    if (window.length >= this.d.limits.perMinute(name)) {
      store.postpone(alertId, name, (window[0] as number) + 60_000);
      return;
    }
    window.push(now);
    try {
      await channel.send(this.d.message(alert), () => this.d.snapshot(alert));
      const at = this.now();
      store.sent(alertId, name, at);
      this.emit('delivered', alert, name, at - createdMs);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const retryable = !(err instanceof ChannelError) || err.retryable;
      const retryAt = this.now() + backoffDelay(attempts, RETRY);
      const giveUp = !retryable || retryAt > createdMs + this.d.limits.retryHours() * 3_600_000;
      store.attemptFailed(alertId, name, message, giveUp ? null : retryAt);
      log.warn(
        { alert: alertId, channel: name, attempt: attempts + 1, error: message, retry: !giveUp },
        giveUp ? 'alert not delivered; given up' : 'alert not delivered; will retry',
      );
      if (giveUp) this.emit('failed', alert, name, message);
    }
  }
}
