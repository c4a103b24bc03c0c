// The one alert only the owner's server can raise: an edge gone silent (powered off, its network or the tunnel down,
// or a thief with the box), and its return. Every other alert leaves from the edge itself, which holds the rules and
// the frames (docs/architecture.md, "Alerts"). The VM sends through the same channel code as the edge; its channels
// are set in its own configuration, their secrets in files.
import { readFileSync } from 'node:fs';

import { ulid } from 'ulidx';

import { ntfyChannel } from '../shared/alerts/ntfy.ts';
import type { AlertChannel, AlertMessage } from '../shared/alerts/types.ts';
import { ChannelError } from '../shared/alerts/types.ts';
import { webhookChannel } from '../shared/alerts/webhook.ts';
import { type BackoffOptions, backoffDelay } from '../shared/backoff.ts';
import type { Logger } from '../shared/log.ts';
import type { VmCache } from './cache/cache.ts';
import type { VmConfig } from './config.ts';

const RETRY: BackoffOptions = { initialMs: 5_000, maxMs: 10 * 60_000, factor: 2, jitter: 0.2 };
/** A VM alert not delivered after this long is dropped (and logged): the edge being silent is then old news. */
const GIVE_UP_MS = 24 * 3_600_000;

const readSecret = (file: string) => readFileSync(file, 'utf8').trim();

export function vmAlertChannels(config: VmConfig['alerts']): AlertChannel[] {
  const out: AlertChannel[] = [];
  if (config.webhook)
    out.push(webhookChannel({ url: config.webhook.url, secret: readSecret(config.webhook.secretFile) }));
  if (config.ntfy)
    out.push(
      ntfyChannel({
        url: config.ntfy.url,
        token: config.ntfy.tokenFile ? readSecret(config.ntfy.tokenFile) : null,
        attachSnapshot: false, // the VM has no clear picture to attach, by design
      }),
    );
  return out;
}

interface Pending {
  alert: AlertMessage;
  channel: AlertChannel;
  attempts: number;
  nextMs: number;
}

export class SilentEdgeWatch {
  private readonly silent = new Set<string>();
  private readonly queue: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  /** Delivered alerts (tests and the bench watch it). */
  readonly delivered: AlertMessage[] = [];

  constructor(
    private readonly cache: Pick<VmCache, 'edges'>,
    private readonly channels: AlertChannel[],
    private readonly silentAfterMs: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(checkEveryMs = 15_000): void {
    // Edges silent already when the VM starts were alerted by the run before (or were off on purpose): not again.
    for (const e of this.cache.edges(this.silentAfterMs)) if (e.status === 'offline') this.silent.add(e.edgeId);
    this.timer = setInterval(() => void this.check(), checkEveryMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async check(): Promise<void> {
    for (const e of this.cache.edges(this.silentAfterMs)) {
      const quiet = e.status === 'offline' && e.lastSeen !== null;
      if (quiet && !this.silent.has(e.edgeId)) {
        this.silent.add(e.edgeId);
        const minutes = Math.round((this.now() - (e.lastSeen ?? 0)) / 60_000);
        this.raise(e.edgeId, 'warning', `${e.name} is silent`, `not heard from for ${minutes} min`);
      } else if (!quiet && this.silent.has(e.edgeId)) {
        this.silent.delete(e.edgeId);
        this.raise(e.edgeId, 'normal', `${e.name} is back`, 'heard from again');
      }
    }
    await this.flush();
  }

  private raise(edgeId: string, severity: AlertMessage['severity'], title: string, message: string): void {
    const now = this.now();
    const alert: AlertMessage = {
      id: ulid(now),
      kind: 'edge_silent',
      severity,
      title,
      message,
      createdMs: now,
      edgeId,
      cameraId: null,
      cameraName: null,
      labels: [],
      zones: [],
      eventIds: [],
      url: null,
    };
    this.log.warn({ edge: edgeId, alert: alert.id }, `alert: ${title}`);
    for (const channel of this.channels) this.queue.push({ alert, channel, attempts: 0, nextMs: now });
  }

  /** Sends what is due; a failure waits with growing delays (up to a day). */
  async flush(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const p of [...this.queue]) {
        if (p.nextMs > this.now()) continue;
        try {
          await p.channel.send(p.alert, async () => null);
          this.queue.splice(this.queue.indexOf(p), 1);
          this.delivered.push(p.alert);
        } catch (err) {
          const retry = !(err instanceof ChannelError) || err.retryable;
          p.nextMs = this.now() + backoffDelay(p.attempts++, RETRY);
          if (!retry || p.nextMs > p.alert.createdMs + GIVE_UP_MS) this.queue.splice(this.queue.indexOf(p), 1);
          this.log.warn(
            { alert: p.alert.id, channel: p.channel.name, error: (err as Error).message, retry },
            'VM alert not delivered',
          );
        }
      }
    } finally {
      this.busy = false;
    }
  }
}
