import { CloudCheck, CloudUpload, Download, Shield } from 'lucide-react';
import { useCallback, useEffect, useRef, useState } from 'react';

import { type ArchiveState, api, type Camera, type GuardianEvent, url } from '../api.ts';
import { Card, ErrorNote } from '../components/Layout.tsx';
import { capitalise } from '../format.ts';
import { usePoll } from '../router.ts';

const time = (ms: number) =>
  new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const day = (ms: number) => new Date(ms).toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' });

/**
 * The event's encrypted copy on the owner's server: "archiving" while any of its objects is on its way, "archived"
 * once the server holds them (the clip then plays from there even if the box loses its recordings).
 */
export function ArchiveBadge({ state }: { state: ArchiveState | undefined }) {
  const kinds = Object.values(state ?? {});
  if (!kinds.length) return null;
  const archiving = kinds.includes('queued');
  const title = archiving
    ? 'Being encrypted and copied to your server'
    : `Encrypted copy on your server (${Object.keys(state ?? {}).join(', ')})`;
  return (
    <span
      data-testid="archive-badge"
      title={title}
      className={`inline-flex items-center gap-1 rounded-full px-2 py-0.5 text-xs font-normal ${archiving ? 'bg-amber-500/15 text-amber-600 dark:text-amber-300' : 'bg-emerald-500/15 text-emerald-700 dark:text-emerald-300'}`}
    >
      {archiving ? <CloudUpload size={12} aria-hidden /> : <CloudCheck size={12} aria-hidden />}
      {archiving ? 'archiving' : 'archived'}
    </span>
  );
}

export function Events() {
  const { data: cameras } = usePoll(() => api<Camera[]>('GET /cameras'), 0);
  // The label chips are the classes the edge is configured to detect, and the events that are not objects (a
  // tampered camera, unusual activity) once there is one of them.
  const { data: labels } = usePoll(async () => {
    const c = await api<{ detection?: { classes?: Record<string, unknown> } }>('GET /config');
    const others = await Promise.all(
      ['tamper', 'unusual'].map(async (l) => {
        const r = await api<{ events: unknown[] }>('GET /events', { query: { label: l, limit: 1 } });
        return r.events.length ? [l] : [];
      }),
    );
    return [...Object.keys(c.detection?.classes ?? {}), ...others.flat()];
  }, 0);
  const [camera, setCamera] = useState('');
  const [label, setLabel] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [events, setEvents] = useState<GuardianEvent[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(false);
  const sentinel = useRef<HTMLDivElement>(null);

  const filtered = Boolean(camera || label || from || to);
  const clear = () => {
    setCamera('');
    setLabel('');
    setFrom('');
    setTo('');
  };
  const query = useCallback(
    (c?: string) => ({
      limit: 30,
      camera: camera || undefined,
      label: label || undefined,
      from: from ? new Date(from).getTime() : undefined,
      to: to ? new Date(to).getTime() + 86_400_000 : undefined,
      cursor: c,
    }),
    [camera, label, from, to],
  );
  const load = useCallback(
    async (more: boolean) => {
      setLoading(true);
      try {
        const r = await api<{ events: GuardianEvent[]; nextCursor: string | null }>('GET /events', {
          query: query(more ? (cursor ?? undefined) : undefined),
        });
        setEvents((prev) => (more ? [...prev, ...r.events] : r.events));
        setCursor(r.nextCursor);
        setError(undefined);
      } catch (e) {
        setError(e);
      } finally {
        setLoading(false);
      }
    },
    [query, cursor],
  );
  useEffect(() => {
    void load(false);
    const t = setInterval(
      () => document.visibilityState === 'visible' && window.scrollY < 200 && void load(false),
      10_000,
    );
    return () => clearInterval(t);
  }, [camera, label, from, to]);
  useEffect(() => {
    // Infinite scroll: the next page loads when the end of the list comes into view.
    const el = sentinel.current;
    if (!el) return;
    const io = new IntersectionObserver(
      (entries) => entries[0]?.isIntersecting && cursor && !loading && void load(true),
    );
    io.observe(el);
    return () => io.disconnect();
  }, [cursor, loading, load]);

  const groups = new Map<string, GuardianEvent[]>();
  for (const e of events) {
    const k = day(e.startMs);
    groups.set(k, [...(groups.get(k) ?? []), e]);
  }
  const select = 'rounded-md border border-zinc-500/40 bg-transparent px-2 py-1.5 text-sm dark:[color-scheme:dark]';
  return (
    <div className="space-y-4">
      <h1 className="text-lg font-semibold">Events</h1>
      <div className="flex flex-wrap gap-2" role="group" aria-label="Filters">
        <select aria-label="Camera" className={select} value={camera} onChange={(e) => setCamera(e.target.value)}>
          <option value="">All cameras</option>
          {cameras?.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name}
            </option>
          ))}
        </select>
        <div className="flex flex-wrap gap-1">
          {['', ...(labels ?? [])].map((l) => (
            <button
              key={l || 'all'}
              type="button"
              aria-pressed={label === l}
              onClick={() => setLabel(l)}
              className={`rounded-full border px-3 py-1 text-sm ${label === l ? 'border-sky-500 bg-sky-500/20 text-sky-300' : 'border-zinc-500/40'}`}
            >
              {l || 'all'}
            </button>
          ))}
        </div>
        <input
          type="date"
          aria-label="From"
          className={select}
          value={from}
          onChange={(e) => setFrom(e.target.value)}
        />
        <input type="date" aria-label="To" className={select} value={to} onChange={(e) => setTo(e.target.value)} />
      </div>
      <ErrorNote error={error} />
      {!loading && events.length === 0 && !error && (
        <p className="text-zinc-400" data-testid="events-empty">
          {filtered ? (
            <>
              No events match these filters.{' '}
              <button type="button" onClick={clear} className="text-sky-400 underline">
                Clear filters
              </button>
            </>
          ) : (
            'No events yet. They appear here when a person or vehicle is seen.'
          )}
        </p>
      )}
      {[...groups.entries()].map(([d, list]) => (
        <section key={d}>
          <h2 className="sticky top-0 z-10 bg-inherit py-2 text-sm font-medium text-zinc-400">{d}</h2>
          <ul className="grid gap-3 sm:grid-cols-2 xl:grid-cols-3">
            {list.map((e) => (
              <li key={e.id}>
                <a
                  href={`#/events/${e.id}`}
                  data-testid="event-row"
                  className="flex min-w-0 gap-3 rounded-xl border border-zinc-500/20 dark:bg-zinc-900 bg-white p-2 hover:border-sky-500/60 focus:outline-2 focus:outline-sky-500"
                >
                  {e.thumbnail ? (
                    <img
                      loading="lazy"
                      src={url('GET /events/:id/thumbnail.jpg', { id: e.id })}
                      alt=""
                      className="h-20 w-28 shrink-0 rounded-md object-cover"
                    />
                  ) : (
                    <div className="h-20 w-28 shrink-0 animate-pulse rounded-md bg-zinc-500/20" />
                  )}
                  <div className="min-w-0 text-sm">
                    <p className="font-medium">
                      {capitalise(e.label)} <span className="text-zinc-400">{Math.round(e.maxScore * 100)}%</span>
                    </p>
                    <p className="text-zinc-400">
                      {time(e.startMs)}
                      {e.endMs ? ` · ${Math.max(1, Math.round((e.endMs - e.startMs) / 1000))} s` : ' · now'}
                      {(e.severity === 'critical' || e.severity === 'warning') && (
                        <span
                          data-testid="severity-badge"
                          className={`ml-2 rounded px-1.5 py-0.5 text-[10px] ${e.severity === 'critical' ? 'bg-red-600 text-white' : 'bg-amber-500 text-black'}`}
                        >
                          {e.severity}
                        </span>
                      )}
                    </p>
                    <p className="truncate text-zinc-500">
                      {cameras?.find((c) => c.id === e.cameraId)?.name ?? e.cameraId}
                      {e.zones.length ? ` · ${e.zones.join(', ')}` : ''}
                    </p>
                    <ArchiveBadge state={e.archive} />
                  </div>
                </a>
              </li>
            ))}
          </ul>
        </section>
      ))}
      <div ref={sentinel} className="h-8">
        {loading && <span className="text-sm text-zinc-400">Loading…</span>}
      </div>
    </div>
  );
}

export function EventDetail({ id }: { id: string }) {
  const {
    data: ev,
    error,
    reload,
  } = usePoll(
    () => api<GuardianEvent & { snapshotBox: [number, number, number, number] | null }>('GET /events/:id', { id }),
    5000,
    [id],
  );
  const [size, setSize] = useState<{ w: number; h: number }>();
  const [learned, setLearned] = useState<string | null>(null);
  const back = (
    <a href="#/events" className="text-sm text-sky-400">
      ← Events
    </a>
  );
  if (error)
    return (
      <div className="space-y-4">
        {back}
        <ErrorNote error={error} />
      </div>
    );
  if (!ev) return <div className="h-64 animate-pulse rounded-xl bg-zinc-500/15" />;
  const b = ev.snapshotBox;
  const protect = async () => {
    await api('POST /events/:id/protect', { id, body: { protected: !ev.protected } });
    reload();
  };
  const judge = async (verdict: GuardianEvent['verdict']) => {
    const r = await api<{ learned: { minScore: number; falsePositives: number } | null }>('POST /events/:id/verdict', {
      id,
      body: { verdict: ev.verdict === verdict ? null : verdict },
    });
    setLearned(
      r.learned
        ? `After ${r.learned.falsePositives} false positives here, such events now alert only from ${Math.round(r.learned.minScore * 100)}% (undo in Alerts)`
        : null,
    );
    reload();
  };
  return (
    <div className="space-y-4">
      {back}
      <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
        <h1 className="text-lg font-semibold">
          {capitalise(ev.label)} at {time(ev.startMs)}{' '}
          <span className="text-sm font-normal text-zinc-400">{day(ev.startMs)}</span>
        </h1>
        <ArchiveBadge state={ev.archive} />
      </div>
      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Clip">
          <video
            data-testid="clip"
            controls
            autoPlay
            muted
            playsInline
            preload="auto"
            src={url('GET /events/:id/clip.mp4', { id })}
            className="w-full rounded-md bg-black"
          />
          <div className="mt-3 flex gap-2">
            <a
              href={url('GET /events/:id/clip.mp4', { id, query: { download: 1 } })}
              className="inline-flex items-center gap-1 rounded-md border border-zinc-500/40 px-3 py-1.5 text-sm"
            >
              <Download size={16} /> Download
            </a>
            <button
              type="button"
              onClick={protect}
              aria-pressed={ev.protected}
              className="inline-flex items-center gap-1 rounded-md border border-zinc-500/40 px-3 py-1.5 text-sm"
            >
              <Shield size={16} /> {ev.protected ? 'Kept' : 'Keep'}
            </button>
            <button
              type="button"
              onClick={() => judge('false_positive')}
              aria-pressed={ev.verdict === 'false_positive'}
              className="inline-flex items-center gap-1 rounded-md border border-zinc-500/40 px-3 py-1.5 text-sm aria-pressed:bg-amber-600/30"
            >
              Not a real {ev.label}
            </button>
            <button
              type="button"
              onClick={() => judge('confirmed')}
              aria-pressed={ev.verdict === 'confirmed'}
              className="inline-flex items-center gap-1 rounded-md border border-zinc-500/40 px-3 py-1.5 text-sm aria-pressed:bg-emerald-600/30"
            >
              Confirmed
            </button>
          </div>
          {learned && (
            <p role="status" className="mt-2 text-sm text-amber-300">
              {learned}
            </p>
          )}
        </Card>
        <Card title="Snapshot">
          {ev.snapshot ? (
            <div className="relative">
              <img
                data-testid="snapshot"
                src={url('GET /events/:id/snapshot.jpg', { id })}
                alt={`${ev.label} snapshot`}
                className="w-full rounded-md"
                onLoad={(e) => setSize({ w: e.currentTarget.naturalWidth, h: e.currentTarget.naturalHeight })}
              />
              {b && size && (
                <svg
                  className="pointer-events-none absolute inset-0 h-full w-full"
                  viewBox={`0 0 ${size.w} ${size.h}`}
                  preserveAspectRatio="none"
                  aria-hidden
                >
                  <rect
                    x={b[0]}
                    y={b[1]}
                    width={b[2] - b[0]}
                    height={b[3] - b[1]}
                    fill="none"
                    stroke="#38bdf8"
                    strokeWidth={3}
                  />
                  <text
                    x={b[0]}
                    y={Math.max(14, b[1] - 6)}
                    fill="#38bdf8"
                    fontSize={16}
                  >{`${ev.label} ${Math.round(ev.maxScore * 100)}%`}</text>
                </svg>
              )}
            </div>
          ) : (
            <p className="text-sm text-zinc-400">The snapshot is being taken…</p>
          )}
          <dl className="mt-3 grid grid-cols-2 gap-1 text-sm">
            <dt className="text-zinc-400">Best score</dt>
            <dd>{Math.round(ev.maxScore * 100)}%</dd>
            <dt className="text-zinc-400">Mean score</dt>
            <dd>{Math.round(ev.meanScore * 100)}%</dd>
            <dt className="text-zinc-400">Duration</dt>
            <dd>{ev.endMs ? `${Math.round((ev.endMs - ev.startMs) / 1000)} s` : 'in progress'}</dd>
            <dt className="text-zinc-400">Zones</dt>
            <dd>{ev.zones.join(', ') || '–'}</dd>
            <dt className="text-zinc-400">Second look</dt>
            <dd data-testid="second-look">
              {ev.secondOpinion
                ? `${ev.secondOpinion.verdict === 'confirmed' ? 'confirmed' : 'not seen'} (${Math.round(ev.secondOpinion.score * 100)}%)`
                : '–'}
            </dd>
            <dt className="text-zinc-400">Severity</dt>
            <dd data-testid="severity">{ev.severity?.replace('_', ' ') ?? '–'}</dd>
          </dl>
        </Card>
      </div>
    </div>
  );
}
