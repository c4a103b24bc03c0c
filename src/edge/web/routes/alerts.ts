// Alerts: what was raised and whether it reached each channel, the channels' state (and what each reveals), their
// secrets (write-only: set or cleared, never shown), test alerts, and the browsers subscribed to Web Push.
import { z } from 'zod';

import { CHANNEL_NAMES } from '../../../shared/alerts/types.ts';
import { validatePushSubscription } from '../../../shared/alerts/webpush.ts';
import { NotFoundError, ValidationError } from '../../../shared/errors.ts';
import type { Api } from '../../../shared/http/api.ts';
import { SETTABLE_SECRETS, type SettableSecret } from '../../alerts/secrets.ts';
import type { EdgeContext } from '../context.ts';

const channelName = z.enum(CHANNEL_NAMES);

function param<T>(schema: z.ZodType<T>, value: unknown, field: string): T {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new ValidationError([{ field, message: `expected one of the channels (${CHANNEL_NAMES.join(', ')})` }]);
  return r.data;
}

export function registerAlertsRoutes(api: Api, ctx: EdgeContext): void {
  const { alerts } = ctx;
  api.route(
    'get',
    '/alerts',
    {
      summary: 'Alerts, newest first, each with its delivery per channel (pending, sent, failed, attempts, last error)',
      tag: 'alerts',
      query: z.strictObject({
        limit: z.coerce.number().int().min(1).max(500).optional(),
        before: z
          .string()
          .regex(/^[0-9A-HJKMNP-TV-Z]{26}$/)
          .optional()
          .describe('an alert id: the page older than it'),
        camera: z.string().max(64).optional(),
      }),
    },
    ({ query }) => ({
      alerts: alerts.store.list({ limit: query.limit, beforeId: query.before, cameraId: query.camera }),
    }),
  );
  api.route(
    'get',
    '/alerts/channels',
    { summary: 'Each channel: on, ready or why not, what it reveals, whether its secret is set', tag: 'alerts' },
    () => ({
      channels: alerts.channels.status(),
      webhookSecretFile: alerts.secrets.webhookSecretFile,
    }),
  );
  api.route(
    'put',
    '/alerts/channels/:id/secret',
    {
      summary:
        'Set (or, with null, clear) the secret of the email (SMTP password), ntfy (token) or mqtt (password) channel',
      tag: 'alerts',
      body: z.strictObject({ value: z.string().min(1).max(1000).nullable() }),
    },
    async ({ req, body }) => {
      const name = String(req.params.id);
      if (!Object.hasOwn(SETTABLE_SECRETS, name))
        throw new ValidationError([
          { field: 'channel', message: `only ${Object.keys(SETTABLE_SECRETS).join(', ')} have a secret to set` },
        ]);
      alerts.secrets.set(name as SettableSecret, body.value);
      await alerts.reconfigure();
      return { channels: alerts.channels.status() };
    },
  );
  api.route(
    'post',
    '/alerts/channels/:id/test',
    {
      summary: 'Send a test alert through one channel now; says whether it was delivered, or the error',
      tag: 'alerts',
    },
    ({ req }) => alerts.test(param(channelName, String(req.params.id), 'channel')),
  );
  api.route(
    'get',
    '/alerts/suppressions',
    {
      summary: 'What false positives taught: the score events of a kind need to alert on a camera (and zone)',
      tag: 'alerts',
    },
    () => ({ suppressions: alerts.store.suppressions() }),
  );
  api.route(
    'delete',
    '/alerts/suppressions/:id',
    { summary: 'Undo one: those events alert at any score again', tag: 'alerts' },
    ({ req }) => {
      if (!alerts.store.unsuppress(String(req.params.id))) throw new NotFoundError('no such suppression');
      return { removed: true };
    },
  );
  api.route(
    'get',
    '/alerts/webpush',
    { summary: "This edge's VAPID public key (browsers subscribe with it) and the subscribed browsers", tag: 'alerts' },
    () => ({
      publicKey: alerts.secrets.vapidKeys().publicKey,
      subscriptions: alerts.store.subscriptions().map((s) => ({
        label: s.label,
        createdMs: s.createdMs,
        // The endpoint is a capability URL (anyone holding it can push to that browser): its service only.
        service: new URL(s.endpoint).host,
      })),
    }),
  );
  api.route(
    'post',
    '/alerts/webpush/subscriptions',
    {
      summary: "Subscribe this browser to push alerts (its PushSubscription's JSON)",
      tag: 'alerts',
      body: z.strictObject({ subscription: z.unknown(), label: z.string().max(100).default('a browser') }),
    },
    ({ body }) => {
      let sub: ReturnType<typeof validatePushSubscription>;
      try {
        sub = validatePushSubscription(body.subscription);
      } catch (err) {
        throw new ValidationError([{ field: 'subscription', message: (err as Error).message }]);
      }
      alerts.store.subscribe(sub, body.label);
      return { subscribed: true };
    },
  );
  api.route(
    'post',
    '/alerts/webpush/unsubscribe',
    {
      summary: 'Remove a browser from push alerts (by its endpoint)',
      tag: 'alerts',
      body: z.strictObject({ endpoint: z.string().url().max(2000) }),
    },
    ({ body }) => ({ removed: alerts.store.unsubscribe(body.endpoint) }),
  );
}
