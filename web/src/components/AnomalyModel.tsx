// A camera's anomaly model (GET /cameras/:id/anomaly): a badge for the dashboard, and on the Cameras page the
// badge with "Learn normal from the last N hours".
import { useState } from 'react';

import { type AnomalyModelState, ApiError, api } from '../api.ts';
import { usePoll } from '../router.ts';

const ago = (iso: string) => {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return 'just now';
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129_600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
};

const REGIME_TEXT = (regimes: string[] | undefined) =>
  !regimes || regimes.includes('any')
    ? ''
    : `; banks for ${regimes.map((r) => (r === 'colour' ? 'day (colour)' : 'night (IR, monochrome)')).join(' and ')}`;

function describe(s: AnomalyModelState): { text: string; title: string; colour: string } {
  switch (s.state) {
    case 'none':
      return { text: 'no model', title: 'Has not learned what is normal here yet', colour: 'bg-zinc-600' };
    case 'learning':
      return {
        text: `learning ${Math.round(s.progress * 100)} %`,
        title: `Learning normal from the last ${s.hours} h of recordings`,
        colour: 'bg-amber-600',
      };
    case 'active':
      return {
        text: s.live?.unusual ? `v${s.version} · unusual` : `${s.kind} v${s.version}`,
        title: `${s.kind === 'cae' ? `Autoencoder trained on your server from ${Math.round(s.seconds * s.fps)} frames` : `Learned from ${s.clips} recordings (${Math.round(s.seconds)} s)`}${REGIME_TEXT(s.regimes)}${s.objectCues ? '; scores tracked objects (class, speed, direction, size)' : ''}, fitted ${ago(s.fittedAt)}${s.live?.msPerFrame ? `; ${s.live.msPerFrame} ms per scored frame` : ''}${s.lastFailure ? `; last attempt failed: ${s.lastFailure.reason}` : ''}`,
        colour: s.live?.unusual ? 'bg-red-700' : 'bg-sky-700',
      };
    case 'failed':
      return { text: 'learning failed', title: s.reason, colour: 'bg-red-700' };
  }
}

export function AnomalyBadge({ cameraId, state }: { cameraId: string; state?: AnomalyModelState }) {
  const polled = usePoll(() => api<AnomalyModelState>('GET /cameras/:id/anomaly', { id: cameraId }), 5000, [cameraId]);
  const s = state ?? polled.data;
  if (!s) return null;
  const d = describe(s);
  return (
    <span
      data-testid={`camera-anomaly-${cameraId}`}
      title={d.title}
      className={`rounded px-2 py-0.5 text-xs text-white ${d.colour}`}
    >
      {d.text}
      {s.state === 'active' && <span className="text-zinc-300"> · {ago(s.fittedAt)}</span>}
    </span>
  );
}

/** "Learn normal from the last N hours", with the model's state and what went wrong. */
export function LearnNormal({ cameraId }: { cameraId: string }) {
  const { data, reload } = usePoll(() => api<AnomalyModelState>('GET /cameras/:id/anomaly', { id: cameraId }), 3000, [
    cameraId,
  ]);
  const [hours, setHours] = useState(2);
  const [error, setError] = useState('');
  const learning = data?.state === 'learning';
  const active = data?.state === 'active' ? data : null;
  const previous = active?.versions.find((v) => v < active.version);
  const rollback = async () => {
    setError('');
    try {
      await api('POST /cameras/:id/anomaly/rollback', { id: cameraId });
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
    reload();
  };
  const learn = async (from: 'recordings' | 'dataset' = 'recordings') => {
    setError('');
    try {
      await api('POST /cameras/:id/anomaly/learn', { id: cameraId, body: { hours, from } });
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
    reload();
  };
  return (
    <div className="flex flex-wrap items-center gap-2 text-sm">
      {data && <AnomalyBadge cameraId={cameraId} state={data} />}
      <label className="flex items-center gap-1 text-zinc-400">
        Learn normal from the last
        <input
          type="number"
          min={0.1}
          max={336}
          step="any"
          aria-label={`Hours to learn from for ${cameraId}`}
          className="w-16 rounded border border-zinc-500/40 bg-transparent px-1"
          value={hours}
          onChange={(e) => setHours(Number(e.target.value))}
        />
        hours
      </label>
      <button
        type="button"
        disabled={learning}
        onClick={() => learn()}
        data-testid={`learn-normal-${cameraId}`}
        className="rounded border border-zinc-500/40 px-2 py-0.5 disabled:opacity-50"
      >
        {learning ? 'Learning…' : 'Learn'}
      </button>
      <button
        type="button"
        disabled={learning}
        onClick={() => learn('dataset')}
        data-testid={`learn-dataset-${cameraId}`}
        title="Learn from the recordings around this camera's screenshots labelled normal in Datasets"
        className="rounded border border-zinc-500/40 px-2 py-0.5 disabled:opacity-50"
      >
        Learn from Datasets “normal”
      </button>
      {active && (
        <span className="text-xs text-zinc-400" data-testid={`anomaly-versions-${cameraId}`}>
          {active.source === 'server' ? 'from your server' : 'learned here'} · versions{' '}
          {active.versions.map((v) => (v === active.version ? `v${v} (active)` : `v${v}`)).join(', ')}
        </span>
      )}
      {previous !== undefined && (
        <button
          type="button"
          onClick={rollback}
          data-testid={`anomaly-rollback-${cameraId}`}
          title={`Go back to model v${previous} at the next frame`}
          className="rounded border border-zinc-500/40 px-2 py-0.5"
        >
          Roll back to v{previous}
        </button>
      )}
      {active?.lastChange && active.lastChange.state !== 'active' && (
        <span className="text-xs text-amber-400" title={active.lastChange.message ?? ''}>
          {active.lastChange.state === 'failed' ? 'last model from the server was refused' : 'rolled back'}
          {active.lastChange.message ? `: ${active.lastChange.message}` : ''}
        </span>
      )}
      {(error || data?.state === 'failed') && (
        <span role="alert" className="text-red-400">
          {error || (data?.state === 'failed' ? data.reason : '')}
        </span>
      )}
    </div>
  );
}
