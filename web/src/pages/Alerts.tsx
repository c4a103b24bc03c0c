import { AlertTriangle, CheckCircle2, Clock, XCircle } from 'lucide-react';

import { type AlertDeliveryView, type AlertSuppressionView, type AlertView, api } from '../api.ts';
import { Card, ErrorNote } from '../components/Layout.tsx';
import { usePoll } from '../router.ts';

// What was raised and whether it reached the owner: each alert with its delivery per channel.

const SEVERITY_STYLE: Record<AlertView['severity'], string> = {
  critical: 'bg-red-600 text-white',
  warning: 'bg-amber-500 text-black',
  normal: 'bg-zinc-500/30',
  false_positive: 'bg-zinc-500/20 line-through',
};

function Delivery({ d }: { d: AlertDeliveryView }) {
  const icon =
    d.state === 'sent' ? (
      <CheckCircle2 className="h-3.5 w-3.5 text-emerald-400" aria-hidden />
    ) : d.state === 'failed' ? (
      <XCircle className="h-3.5 w-3.5 text-red-400" aria-hidden />
    ) : (
      <Clock className="h-3.5 w-3.5 text-amber-400" aria-hidden />
    );
  const detail =
    d.state === 'sent'
      ? `sent ${d.sentMs ? new Date(d.sentMs).toLocaleTimeString() : ''}`
      : d.state === 'failed'
        ? `failed after ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}${d.lastError ? `: ${d.lastError}` : ''}`
        : `pending${d.attempts ? ` (${d.attempts} failed: ${d.lastError ?? ''}; next ${new Date(d.nextMs).toLocaleTimeString()})` : ''}`;
  return (
    <li className="flex items-center gap-1" title={detail} data-testid={`delivery-${d.channel}-${d.state}`}>
      {icon}
      <span>{d.channel}</span>
      <span className="sr-only">{detail}</span>
    </li>
  );
}

/** What the owner's false positives taught, each with an undo. */
function Learned() {
  const { data, reload } = usePoll(
    () => api<{ suppressions: AlertSuppressionView[] }>('GET /alerts/suppressions'),
    30_000,
  );
  if (!data?.suppressions.length) return null;
  return (
    <Card title="Learned from false positives">
      <ul className="space-y-2 text-sm" aria-label="Learned from false positives">
        {data.suppressions.map((s) => (
          <li key={s.id} className="flex flex-wrap items-center gap-2">
            <span>
              {s.label} on {s.cameraId}
              {s.zone ? ` in ${s.zone}` : ''}: alerts only from {Math.round(s.minScore * 100)}% (after{' '}
              {s.falsePositives} false positives)
            </span>
            <button
              type="button"
              className="rounded-md border border-zinc-500/40 px-2 py-0.5"
              onClick={() => api('DELETE /alerts/suppressions/:id', { id: s.id }).then(reload)}
            >
              Undo
            </button>
          </li>
        ))}
      </ul>
    </Card>
  );
}

export function Alerts() {
  const { data, error } = usePoll(() => api<{ alerts: AlertView[] }>('GET /alerts', { query: { limit: 100 } }), 5000);
  return (
    <div className="space-y-4">
      <h1 className="text-lg font-semibold">Alerts</h1>
      <ErrorNote error={error} />
      <Card title="Recent alerts">
        {!data ? (
          <div className="h-24 animate-pulse rounded-md bg-zinc-500/15" />
        ) : data.alerts.length === 0 ? (
          <p className="text-sm text-zinc-400">
            No alerts yet. Events become alerts by the rules in Settings → Alerts; the channels they go to are set there
            too, each with a test button.
          </p>
        ) : (
          <ul className="divide-y divide-zinc-500/20" aria-label="Alerts">
            {data.alerts.map((a) => (
              <li key={a.id} className="flex flex-wrap items-start gap-3 py-2" data-testid="alert">
                <span className={`rounded px-2 py-0.5 text-xs font-medium ${SEVERITY_STYLE[a.severity]}`}>
                  {a.severity.replace('_', ' ')}
                </span>
                <div className="min-w-0 flex-1">
                  <p className="font-medium">
                    {a.eventIds[0] ? <a href={`#/events/${a.eventIds[0]}`}>{a.title}</a> : a.title}
                  </p>
                  <p className="text-sm text-zinc-400">
                    {new Date(a.createdMs).toLocaleString()} · {a.message}
                  </p>
                </div>
                {a.deliveries.length ? (
                  <ul className="flex flex-wrap gap-3 text-xs" aria-label="Deliveries">
                    {a.deliveries.map((d) => (
                      <Delivery key={d.channel} d={d} />
                    ))}
                  </ul>
                ) : (
                  <span className="flex items-center gap-1 text-xs text-zinc-500">
                    <AlertTriangle className="h-3.5 w-3.5" aria-hidden /> no channel wanted it
                  </span>
                )}
              </li>
            ))}
          </ul>
        )}
      </Card>
      <Learned />
    </div>
  );
}
