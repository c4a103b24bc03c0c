import { Area, AreaChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

import { api, type Status } from '../api.ts';
import { AnomalyBadge } from '../components/AnomalyModel.tsx';
import { Card, ErrorNote } from '../components/Layout.tsx';
import { plural } from '../format.ts';
import { usePoll } from '../router.ts';

interface Telemetry {
  uptimeSeconds: number;
  now: { cpuPercent: number; memoryPercent: number; diskPercent: number; inferenceMs: number | null };
  history: { t: number; cpuPercent: number; memoryPercent: number; diskPercent: number; inferenceMs: number | null }[];
}

function Gauge({ label, value, unit = '%' }: { label: string; value: number | null; unit?: string }) {
  const v = value ?? 0;
  const pct = unit === '%' ? Math.min(100, v) : Math.min(100, v);
  const colour = unit !== '%' ? 'bg-sky-500' : v > 90 ? 'bg-red-500' : v > 75 ? 'bg-amber-500' : 'bg-emerald-500';
  return (
    <div>
      <div className="flex justify-between text-sm">
        <span className="text-zinc-400">{label}</span>
        <span className="tabular-nums">
          {value === null ? '–' : `${Math.round(v * 10) / 10}${unit === '%' ? '%' : ` ${unit}`}`}
        </span>
      </div>
      <div
        className="mt-1 h-2 rounded bg-zinc-500/20"
        role="meter"
        aria-label={label}
        aria-valuenow={v}
        aria-valuemin={0}
        aria-valuemax={100}
      >
        <div className={`h-2 rounded ${colour}`} style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

const duration = (s: number) =>
  s < 3600
    ? `${Math.floor(s / 60)} min`
    : s < 86400
      ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
      : `${Math.floor(s / 86400)} d`;

export function Dashboard() {
  const status = usePoll(() => api<Status>('GET /status'), 5000);
  const tel = usePoll(() => api<Telemetry>('GET /telemetry'), 10_000);
  const s = status.data;
  const t = tel.data;
  const history = (t?.history ?? []).map((h) => ({
    ...h,
    time: new Date(h.t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
  }));
  return (
    <div className="space-y-4">
      <h1 className="text-lg font-semibold">Dashboard</h1>
      <ErrorNote error={status.error} />
      {!s ? (
        <div className="grid gap-4 sm:grid-cols-4">
          {[0, 1, 2, 3].map((i) => (
            <div key={i} className="h-24 animate-pulse rounded-xl bg-zinc-500/15" />
          ))}
        </div>
      ) : (
        <>
          {!s.database.ok && (
            <div
              role="alert"
              data-testid="database-damaged"
              className="rounded-xl border border-red-500/50 p-4 text-sm"
            >
              <p className="font-medium text-red-400">The database was damaged and has been rebuilt.</p>
              <p className="text-zinc-400">
                {Object.values(s.database.salvage?.rows ?? {}).reduce((a, b) => a + b, 0)} records were recovered
                {Object.keys(s.database.salvage?.unreadable ?? {}).length
                  ? `; some in ${Object.keys(s.database.salvage?.unreadable ?? {}).join(', ')} could not be read`
                  : ''}
                . Recordings on disk are untouched. The damaged file is kept as {s.database.salvage?.damagedCopy}.
              </p>
            </div>
          )}
          <div className="grid gap-4 grid-cols-2 lg:grid-cols-4">
            <Card title="Cameras online">
              <p className="text-3xl font-semibold tabular-nums" data-testid="cameras-online">
                {s.camerasOnline} / {s.cameras.length}
              </p>
            </Card>
            <Card title="Events today">
              <p className="text-3xl font-semibold tabular-nums">{s.eventsToday}</p>
            </Card>
            <Card title="Inference">
              <p className="text-3xl font-semibold tabular-nums">
                {t?.now.inferenceMs ?? '–'} <span className="text-base text-zinc-400">ms</span>
              </p>
              <p className="text-xs text-zinc-400">
                {s.media.backend?.name ?? 'starting'}
                {s.media.backend?.fallback ? ' (fallback)' : ''}
              </p>
            </Card>
            <Card title="Server link">
              <p className="text-lg">{!s.link.configured ? 'Not set up' : s.link.connected ? 'Connected' : 'Down'}</p>
              <p className="text-xs text-zinc-400">
                {s.link.connected
                  ? `${s.link.tunnel ? 'WireGuard' : 'no tunnel'} · ping ${s.link.latencyMs ?? '–'} ms${
                      s.link.handshakeAgeSeconds !== null ? ` · handshake ${s.link.handshakeAgeSeconds} s ago` : ''
                    } · `
                  : ''}
                {plural(s.outboxLength, 'item')} queued
              </p>
              {s.link.serverWarnings?.map((w) => (
                <p key={w} role="alert" data-testid="server-warning" className="mt-1 text-xs text-amber-400">
                  {w}
                </p>
              ))}
            </Card>
          </div>
          <div className="grid gap-4 lg:grid-cols-3">
            <Card title="This box">
              <div className="space-y-3">
                <Gauge label="CPU" value={t?.now.cpuPercent ?? null} />
                <Gauge label="Memory" value={t?.now.memoryPercent ?? null} />
                <Gauge label="Disk" value={t?.now.diskPercent ?? null} />
              </div>
              <p className="mt-3 text-xs text-zinc-400">
                Guardian {s.version} · up {duration(s.uptimeSeconds)} · media restarts {s.media.restarts}
              </p>
            </Card>
            <Card title="CPU and memory, last hour" className="lg:col-span-2">
              {history.length < 2 ? (
                <p className="text-sm text-zinc-400">Collecting… the chart fills in every 10 seconds.</p>
              ) : (
                <ResponsiveContainer width="100%" height={160}>
                  <AreaChart data={history}>
                    <XAxis dataKey="time" tick={{ fontSize: 11 }} stroke="#71717a" />
                    <YAxis domain={[0, 100]} tick={{ fontSize: 11 }} stroke="#71717a" width={30} />
                    <Tooltip />
                    <Area
                      type="monotone"
                      dataKey="cpuPercent"
                      name="CPU %"
                      stroke="#38bdf8"
                      fill="#38bdf833"
                      isAnimationActive={false}
                    />
                    <Area
                      type="monotone"
                      dataKey="memoryPercent"
                      name="Memory %"
                      stroke="#a78bfa"
                      fill="#a78bfa22"
                      isAnimationActive={false}
                    />
                  </AreaChart>
                </ResponsiveContainer>
              )}
            </Card>
          </div>
          <Card title="Cameras">
            {s.cameras.length === 0 ? (
              <p className="text-sm text-zinc-400">
                No cameras yet —{' '}
                <a className="text-sky-400 underline" href="#/cameras">
                  add or discover one
                </a>
                .
              </p>
            ) : (
              <ul className="divide-y divide-zinc-500/20">
                {s.cameras.map((c) => (
                  <li key={c.id} className="flex flex-wrap items-center justify-between gap-x-3 gap-y-1 py-2 text-sm">
                    <span>{c.name}</span>
                    <span className="flex items-center gap-3 tabular-nums text-zinc-400">
                      {c.inputFps ?? 0} fps · detect {c.detectFps} fps · {c.recording ? 'recording' : 'not recording'}
                      {c.keyframesOnly && (
                        // Nothing has moved for a while: only keyframes are decoded until something does.
                        <span
                          data-testid={`camera-idle-${c.id}`}
                          title="Nothing has moved for a while: only keyframes are decoded (recording is untouched)"
                          className="rounded bg-zinc-600 px-2 py-0.5 text-xs text-white"
                        >
                          idle
                        </span>
                      )}
                      <AnomalyBadge cameraId={c.id} />
                      {c.tamper && (
                        // Online but not watching: covered, dark, defocused, moved or frozen (a tamper event is open).
                        <span
                          data-testid={`camera-tamper-${c.id}`}
                          className="rounded bg-red-700 px-2 py-0.5 text-xs text-white"
                        >
                          {c.tamper}
                        </span>
                      )}
                      <span
                        data-testid={`camera-status-${c.id}`}
                        className={`rounded px-2 py-0.5 text-xs text-white ${c.status === 'online' ? 'bg-emerald-700' : c.status === 'connecting' ? 'bg-amber-600' : 'bg-red-700'}`}
                      >
                        {c.status}
                      </span>
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </Card>
        </>
      )}
    </div>
  );
}
