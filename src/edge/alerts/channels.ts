// The channels the configuration turns on, built from it and their secrets, and rebuilt when either changes. A
// channel that cannot be built (no URL, a bad address) is off with the reason, which the settings page shows.
import { createHash } from 'node:crypto';

import type { AlertsConfig } from '../../shared/alerts/config.ts';
import { emailChannel } from '../../shared/alerts/email.ts';
import { ntfyChannel } from '../../shared/alerts/ntfy.ts';
import {
  type AlertChannel,
  CHANNEL_NAMES,
  type ChannelName,
  type Severity,
  severityRank,
} from '../../shared/alerts/types.ts';
import { webhookChannel } from '../../shared/alerts/webhook.ts';
import { webPushChannel } from '../../shared/alerts/webpush.ts';
import type { AlertChannelView } from '../../shared/api-types.ts';
import type { Logger } from '../../shared/log.ts';
import { MqttBridge, type MqttCamera } from './mqtt.ts';
import type { AlertSecrets } from './secrets.ts';
import type { AlertStore } from './store.ts';

export type ChannelStatus = AlertChannelView;

interface Built {
  key: string;
  channel: AlertChannel;
}

export interface ChannelDeps {
  secrets: AlertSecrets;
  store: AlertStore;
  nodeId: () => string;
  cameras: () => MqttCamera[];
  log: Logger;
}

export class AlertChannels {
  private readonly built = new Map<ChannelName, Built>();
  private readonly problems = new Map<ChannelName, string>();
  private config: AlertsConfig | null = null;

  constructor(private readonly d: ChannelDeps) {}

  get mqtt(): MqttBridge | null {
    const c = this.built.get('mqtt')?.channel;
    return c instanceof MqttBridge ? c : null;
  }

  /** Builds what is enabled and changed, closes what is off or replaced. */
  async configure(config: AlertsConfig): Promise<void> {
    this.config = config;
    for (const name of CHANNEL_NAMES) {
      const want = config.channels[name].enabled ? this.describe(name, config) : null;
      const have = this.built.get(name);
      if (have && want && have.key === want.key) continue;
      if (have) {
        this.built.delete(name);
        await have.channel.close?.().catch(() => undefined);
      }
      this.problems.delete(name);
      if (!want) continue;
      try {
        const channel = want.build();
        this.built.set(name, { key: want.key, channel });
        if (channel instanceof MqttBridge)
          channel.start(this.d.cameras()).then(
            () => this.problems.delete(name),
            (err: Error) => {
              // mqtt.js keeps trying; the reason shows until it connects.
              this.problems.set(name, err.message);
              this.d.log.warn({ channel: name, error: err.message }, 'the MQTT broker is not reachable yet');
            },
          );
      } catch (err) {
        this.problems.set(name, (err as Error).message);
        this.d.log.warn({ channel: name, error: (err as Error).message }, 'alert channel not configured');
      }
    }
  }

  /** What a channel is built from (its key changes when its settings or secret do), or why it cannot be. */
  private describe(name: ChannelName, config: AlertsConfig): { key: string; build: () => AlertChannel } {
    const { secrets } = this.d;
    const key = (...parts: unknown[]) => createHash('sha256').update(JSON.stringify(parts)).digest('hex');
    const need = (value: string, what: string) => {
      if (!value) throw new Error(`${what} is not set`);
      return value;
    };
    const c = config.channels;
    switch (name) {
      case 'webhook': {
        const secret = secrets.webhookSecret();
        return {
          key: key(c.webhook, secret),
          build: () => webhookChannel({ url: need(c.webhook.url, 'the URL'), secret }),
        };
      }
      case 'ntfy': {
        const token = secrets.get('ntfy');
        return {
          key: key(c.ntfy, token),
          build: () => ntfyChannel({ url: need(c.ntfy.url, 'the URL'), token, attachSnapshot: c.ntfy.attachSnapshot }),
        };
      }
      case 'email': {
        const password = secrets.get('email');
        const e = c.email;
        return {
          key: key(e, password),
          build: () =>
            emailChannel({
              host: need(e.host, 'the SMTP host'),
              port: e.port,
              secure: e.security === 'tls',
              requireTls: e.security === 'starttls',
              username: e.username || null,
              password,
              from: need(e.from, 'the sender (from)'),
              to: e.to.length ? e.to : [need('', 'a recipient (to)')],
              attachSnapshot: e.attachSnapshot,
            }),
        };
      }
      case 'webpush': {
        const vapid = secrets.vapidKeys();
        return {
          key: key(c.webpush, vapid.publicKey),
          build: () =>
            webPushChannel({
              subject: c.webpush.subject,
              vapid,
              subscriptions: () => this.d.store.subscriptions(),
              onGone: (endpoint) => this.d.store.unsubscribe(endpoint),
            }),
        };
      }
      case 'mqtt': {
        const password = secrets.get('mqtt');
        const m = c.mqtt;
        return {
          key: key(m, password, this.d.nodeId()),
          build: () =>
            new MqttBridge(
              {
                url: need(m.url, 'the broker URL'),
                username: m.username || null,
                password,
                topicPrefix: m.topicPrefix,
                discoveryPrefix: m.discoveryPrefix,
                nodeId: this.d.nodeId(),
                publishSnapshots: m.publishSnapshots,
              },
              this.d.log.child({ component: 'mqtt' }),
            ),
        };
      }
    }
  }

  get(name: ChannelName): AlertChannel | undefined {
    return this.built.get(name)?.channel;
  }

  /** The ready channels that want an alert of this severity. */
  wanting(severity: Severity): ChannelName[] {
    const config = this.config;
    if (!config) return [];
    return [...this.built.keys()].filter((n) => severityRank[severity] >= severityRank[config.channels[n].minSeverity]);
  }

  status(): ChannelStatus[] {
    const config = this.config;
    return CHANNEL_NAMES.map((name) => {
      const built = this.built.get(name)?.channel;
      const settable = name === 'email' || name === 'ntfy' || name === 'mqtt';
      return {
        name,
        enabled: Boolean(config?.channels[name].enabled),
        ready: Boolean(built),
        problem:
          built instanceof MqttBridge && built.connected
            ? null
            : (this.problems.get(name) ?? (built instanceof MqttBridge ? 'connecting to the broker…' : null)),
        reveals: built?.reveals ?? null,
        minSeverity: config?.channels[name].minSeverity ?? 'warning',
        secretSet: settable ? this.d.secrets.get(name) !== null : true,
      };
    });
  }

  async close(): Promise<void> {
    for (const [name, b] of this.built) {
      this.built.delete(name);
      await b.channel.close?.().catch(() => undefined);
    }
  }
}
