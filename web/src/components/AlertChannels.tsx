import { useState } from 'react';

import { type AlertChannelView, ApiError, api } from '../api.ts';
import { usePoll } from '../router.ts';
import { Card, ErrorNote } from './Layout.tsx';

// Each alert channel's state, what it reveals, its secret (write-only) and a test button; and this browser's push
// subscription. The channels' settings themselves are in the Alerts section of the settings form above.

const SECRET_LABEL: Partial<Record<AlertChannelView['name'], string>> = {
  email: 'SMTP password',
  ntfy: 'Access token',
  mqtt: 'Broker password',
};

function SecretField({
  channel,
  set,
  onDone,
}: {
  channel: AlertChannelView['name'];
  set: boolean;
  onDone: () => void;
}) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const label = SECRET_LABEL[channel];
  if (!label) return null;
  const save = async (v: string | null) => {
    setError(null);
    try {
      await api('PUT /alerts/channels/:id/secret', { id: channel, body: { value: v } });
      setValue('');
      onDone();
    } catch (err) {
      setError(err instanceof ApiError && err.issues[0] ? err.issues[0].message : (err as Error).message);
    }
  };
  return (
    <div className="flex flex-wrap items-center gap-2 text-sm">
      <label htmlFor={`secret-${channel}`}>{label}</label>
      <input
        id={`secret-${channel}`}
        type="password"
        autoComplete="new-password"
        value={value}
        placeholder={set ? '(set: type to replace)' : '(not set)'}
        onChange={(e) => setValue(e.target.value)}
        className="rounded-md border border-zinc-500/40 bg-transparent px-2 py-1"
      />
      <button
        type="button"
        disabled={!value}
        onClick={() => save(value)}
        className="rounded-md bg-zinc-500/20 px-3 py-1 disabled:opacity-50"
      >
        Set
      </button>
      {set && (
        <button type="button" onClick={() => save(null)} className="rounded-md px-2 py-1 text-zinc-400">
          Clear
        </button>
      )}
      {error && (
        <span role="alert" className="text-red-400">
          {error}
        </span>
      )}
    </div>
  );
}

function urlBase64ToBytes(s: string): Uint8Array {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

/** Subscribes this browser to push alerts: the service worker shows them even with the page closed. */
function PushThisBrowser({ onDone }: { onDone: () => void }) {
  const [state, setState] = useState<string | null>(null);
  const supported = 'serviceWorker' in navigator && 'PushManager' in window && window.isSecureContext;
  const subscribe = async () => {
    setState('asking…');
    try {
      const { publicKey } = await api<{ publicKey: string }>('GET /alerts/webpush');
      const reg = await navigator.serviceWorker.register('/sw.js');
      if ((await Notification.requestPermission()) !== 'granted') throw new Error('notifications are not allowed');
      const sub = await reg.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: urlBase64ToBytes(publicKey) as BufferSource,
      });
      await api('POST /alerts/webpush/subscriptions', {
        body: { subscription: sub.toJSON(), label: navigator.userAgent.slice(0, 100) },
      });
      setState('this browser gets push alerts');
      onDone();
    } catch (err) {
      setState(`not subscribed: ${(err as Error).message}`);
    }
  };
  const unsubscribe = async () => {
    const reg = await navigator.serviceWorker.getRegistration('/sw.js');
    const sub = await reg?.pushManager.getSubscription();
    if (sub) {
      await api('POST /alerts/webpush/unsubscribe', { body: { endpoint: sub.endpoint } });
      await sub.unsubscribe();
    }
    setState('this browser no longer gets push alerts');
    onDone();
  };
  if (!supported)
    return (
      <p className="text-xs text-zinc-500">
        This browser cannot subscribe here: push needs HTTPS (turn on http.tls) and a browser with the Push API.
      </p>
    );
  return (
    <div className="flex flex-wrap items-center gap-2 text-sm">
      <button type="button" onClick={subscribe} className="rounded-md bg-zinc-500/20 px-3 py-1">
        Get push alerts on this browser
      </button>
      <button type="button" onClick={unsubscribe} className="rounded-md px-2 py-1 text-zinc-400">
        Stop on this browser
      </button>
      {state && <span role="status">{state}</span>}
    </div>
  );
}

export function AlertChannels() {
  const { data, error, reload } = usePoll(
    () =>
      Promise.all([
        api<{ channels: AlertChannelView[]; webhookSecretFile: string }>('GET /alerts/channels'),
        api<{ subscriptions: { label: string; service: string; createdMs: number }[] }>('GET /alerts/webpush'),
      ]),
    10_000,
  );
  const [results, setResults] = useState<Record<string, string>>({});
  const test = async (name: string) => {
    setResults((r) => ({ ...r, [name]: 'sending…' }));
    const r = await api<{ delivered: boolean; error: string | null; ms: number }>('POST /alerts/channels/:id/test', {
      id: name,
    }).catch((err: Error) => ({ delivered: false, error: err.message, ms: 0 }));
    setResults((x) => ({ ...x, [name]: r.delivered ? `delivered in ${r.ms} ms` : `not delivered: ${r.error}` }));
  };
  if (!data) return <ErrorNote error={error} />;
  const [{ channels, webhookSecretFile }, push] = data;
  return (
    <Card title="Alert channels (turn them on and set them up in the Alerts section above, then Save)">
      <ul className="space-y-4" aria-label="Alert channels">
        {channels.map((c) => (
          <li key={c.name} className="space-y-1" data-testid={`channel-${c.name}`}>
            <div className="flex flex-wrap items-center gap-2">
              <span className="font-medium">{c.name}</span>
              <span
                className={`rounded px-2 py-0.5 text-xs ${c.ready ? 'bg-emerald-700 text-white' : c.enabled ? 'bg-amber-600 text-white' : 'bg-zinc-500/20'}`}
              >
                {c.ready ? 'ready' : c.enabled ? 'not ready' : 'off'}
              </span>
              <span className="text-xs text-zinc-500">from {c.minSeverity} up</span>
              <button
                type="button"
                disabled={!c.enabled}
                onClick={() => test(c.name)}
                className="ml-auto rounded-md bg-sky-600 px-3 py-1 text-sm text-white disabled:opacity-40"
              >
                Send a test alert
              </button>
            </div>
            {c.problem && <p className="text-sm text-amber-400">{c.problem}</p>}
            {results[c.name] && (
              <p role="status" className="text-sm">
                {results[c.name]}
              </p>
            )}
            {c.reveals && <p className="text-xs text-zinc-500">Reveals: {c.reveals}</p>}
            {c.name === 'webhook' && (
              <p className="text-xs text-zinc-500">
                Signed with HMAC-SHA256 over "&lt;x-guardian-timestamp&gt;.&lt;body&gt;" (header x-guardian-signature);
                the key is in <code>{webhookSecretFile}</code>.
              </p>
            )}
            <SecretField channel={c.name} set={c.secretSet} onDone={reload} />
            {c.name === 'webpush' && (
              <>
                <PushThisBrowser onDone={reload} />
                {push.subscriptions.length > 0 && (
                  <p className="text-xs text-zinc-500">
                    Subscribed: {push.subscriptions.map((s) => `${s.label} (${s.service})`).join('; ')}
                  </p>
                )}
              </>
            )}
          </li>
        ))}
      </ul>
    </Card>
  );
}
