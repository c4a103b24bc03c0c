// The `alerts` section of the edge's configuration: when an event matters (severity rules, armed schedule), how alerts
// are grouped, and the channels they leave by. Channel secrets (an SMTP password, an ntfy or MQTT token, the webhook's
// signing key) are not here: they live in 0600 files of the data dir, set through the API, never shown back.
import { z } from 'zod';

import { SEVERITIES } from './types.ts';

const severity = z.enum(SEVERITIES);
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const clockTime = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (24 h), e.g. 22:30')
  .describe('HH:MM, 24 h, local time');

const window = z.strictObject({
  days: z
    .array(z.enum(DAYS))
    .min(1)
    .default([...DAYS])
    .describe('days the window starts on'),
  from: clockTime,
  to: clockTime.describe('HH:MM; before `from` means the next morning'),
});

const rule = z.strictObject({
  cameras: z.array(z.string()).default([]).describe('camera ids (empty: every camera)'),
  labels: z
    .array(z.string().regex(/^[\w-]{1,40}$/))
    .default([])
    .describe('event labels: person, car, ..., unusual, tamper (empty: any)'),
  zones: z.array(z.string()).default([]).describe('the object entered one of these zones (empty: anywhere)'),
  when: z
    .enum(['always', 'armed', 'disarmed', 'night', 'day'])
    .default('always')
    .describe('armed/disarmed: by alerts.armed and its schedule; night/day: by alerts.night'),
  minDwellSeconds: z
    .number()
    .min(0)
    .max(3600)
    .default(0)
    .describe('only once the object has been there this long (loitering); 0: at once'),
  severity: severity.describe('the severity of a matching event'),
});
export type SeverityRule = z.infer<typeof rule>;

const VEHICLES = ['car', 'truck', 'bus', 'motorcycle', 'bicycle'];
export const defaultSeverityRules: z.input<typeof rule>[] = [
  { labels: ['tamper'], severity: 'critical' },
  { labels: ['person'], when: 'armed', severity: 'critical' },
  { labels: ['unusual'], when: 'armed', severity: 'critical' },
  { labels: ['unusual'], severity: 'warning' },
  { labels: ['person'], when: 'night', severity: 'warning' },
  { labels: VEHICLES, when: 'armed', severity: 'warning' },
];

const on = (what: string) => z.boolean().default(false).describe(what);
const minSeverity = severity.default('warning').describe('alerts at or above this severity are sent');
const perMinute = z
  .number()
  .int()
  .min(1)
  .max(600)
  .default(6)
  .describe('at most this many alerts a minute (more wait their turn)');
const httpUrl = z
  .string()
  .max(2000)
  .refine((u) => u === '' || /^https?:\/\/[^\s]+$/.test(u), 'expected an http:// or https:// URL')
  .default('');

export const alertsConfigSchema = z
  .strictObject({
    armed: z
      .enum(['armed', 'disarmed', 'schedule'])
      .default('schedule')
      .describe('armed all the time, disarmed (home), or armed during alerts.schedule only'),
    schedule: z
      .array(window)
      .max(28)
      .default([{ days: [...DAYS], from: '23:00', to: '06:00' }])
      .describe('when alerts.armed is schedule: the windows the system is armed'),
    night: z
      .strictObject({ from: clockTime.default('20:00'), to: clockTime.default('07:00') })
      .prefault({})
      .describe('hours that count as night for rules with when: night'),
    rules: z
      .array(rule)
      .max(100)
      .default(() => defaultSeverityRules.map((r) => rule.parse(r)))
      .describe(
        'severity of an event: the first rule that matches wins, none matching is normal. Default: tamper critical; a person or unusual activity while armed critical; unusual activity otherwise, a person at night and a vehicle while armed warning',
      ),
    incidentSeconds: z
      .number()
      .min(10)
      .max(3600)
      .default(300)
      .describe(
        'events of one camera, label and severity less than this apart are one incident: one alert, then one summary of the rest',
      ),
    secondLook: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            "before a person or vehicle alerts, look again at the event's best frame cropped around the object (more pixels on it); no match of that kind there is a false positive, no alert",
          ),
        confirmScore: z
          .number()
          .min(0.05)
          .max(0.95)
          .default(0.35)
          .describe('score the closer look needs to confirm the object'),
        waitSeconds: z
          .number()
          .min(0.1)
          .max(30)
          .default(3)
          .describe('longest an alert waits for the closer look (it takes ~15 ms once the snapshot is taken)'),
      })
      .prefault({})
      .describe("the edge's second opinion on each person and vehicle event (here, where the clear frame is)"),
    offlineMinutes: z.number().min(1).max(1440).default(5).describe('a camera offline this long is a warning alert'),
    linkUrl: z
      .string()
      .max(200)
      .refine((u) => u === '' || /^https?:\/\/[^\s/]+\/?$/.test(u), 'expected https://host[:port] (no path)')
      .default('')
      .describe(
        "this appliance's UI as your phone reaches it (e.g. https://guardian.home.arpa:8443): alerts link to their event there; empty: no link",
      ),
    retryHours: z
      .number()
      .min(0.1)
      .max(168)
      .default(24)
      .describe('a channel that keeps failing is retried (with growing delays) this long, then the delivery is failed'),
    channels: z
      .strictObject({
        webhook: z
          .strictObject({
            enabled: on('send alerts to a webhook'),
            url: httpUrl.describe('receives a JSON POST signed with HMAC-SHA256 (x-guardian-signature)'),
            minSeverity,
            perMinute,
          })
          .prefault({}),
        ntfy: z
          .strictObject({
            enabled: on('send alerts to an ntfy server (phone push)'),
            url: httpUrl.describe('the ntfy server and topic, e.g. https://ntfy.example.net/home (self-hostable)'),
            attachSnapshot: z
              .boolean()
              .default(false)
              .describe('attach the snapshot (the picture then goes to the ntfy server)'),
            minSeverity,
            perMinute,
          })
          .prefault({}),
        email: z
          .strictObject({
            enabled: on('send alerts by e-mail'),
            host: z.string().max(253).default('').describe("your SMTP server's host name"),
            port: z.number().int().min(1).max(65535).default(587).describe('SMTP port: 587 submission, 465 TLS'),
            security: z
              .enum(['starttls', 'tls', 'none'])
              .default('starttls')
              .describe('starttls (port 587), tls (port 465), or none (a server on this network only)'),
            username: z
              .string()
              .max(200)
              .default('')
              .describe('SMTP login (its password is set in the alert channels card; empty: no login)'),
            from: z.string().max(200).default('').describe('sender address, e.g. Guardian <guardian@example.net>'),
            to: z.array(z.string().max(200)).max(20).default([]).describe('recipient addresses'),
            attachSnapshot: z
              .boolean()
              .default(false)
              .describe('attach the snapshot (the picture then goes to your mail servers)'),
            minSeverity: severity.default('critical').describe('alerts at or above this severity are sent'),
            perMinute: perMinute.default(2),
          })
          .prefault({}),
        webpush: z
          .strictObject({
            enabled: on('send alerts as Web Push to the browsers that subscribed (needs HTTPS)'),
            subject: z
              .string()
              .max(200)
              .regex(/^(mailto:[^\s@]+@[^\s@]+|https:\/\/\S+)$/, 'expected mailto:you@example.com or an https:// URL')
              .default('mailto:owner@guardian.invalid')
              .describe('how push services can reach you (VAPID subject)'),
            minSeverity,
            perMinute,
          })
          .prefault({}),
        mqtt: z
          .strictObject({
            enabled: on('publish states and alerts to an MQTT broker (Home Assistant)'),
            url: z
              .string()
              .max(2000)
              .refine(
                (u) => u === '' || /^mqtts?:\/\/[^\s/]+/.test(u),
                'expected mqtt://host:1883 or mqtts://host:8883',
              )
              .default('')
              .describe('the MQTT broker on your network (Home Assistant discovers the cameras)'),
            username: z
              .string()
              .max(200)
              .default('')
              .describe('broker login (its password is set in the alert channels card; empty: none)'),
            topicPrefix: z
              .string()
              .regex(/^[\w-]{1,40}$/)
              .default('guardian')
              .describe('topics start with this: <prefix>/<camera>/person/state, <prefix>/alerts'),
            discoveryPrefix: z
              .string()
              .regex(/^[\w-]{1,40}$/)
              .default('homeassistant')
              .describe("Home Assistant's discovery prefix"),
            publishSnapshots: z.boolean().default(false).describe('publish event snapshots (pictures) to the broker'),
            minSeverity: severity.default('normal').describe('alerts at or above this severity go to <prefix>/alerts'),
            perMinute: perMinute.default(60),
          })
          .prefault({}),
      })
      .prefault({}),
  })
  .prefault({})
  .describe('alerts: when an event matters, and the channels that tell you');

export type AlertsConfig = z.infer<typeof alertsConfigSchema>;
export const VEHICLE_LABELS = VEHICLES;
