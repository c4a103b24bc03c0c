import { Bell, Camera, Database, Film, LayoutDashboard, LogOut, Moon, Settings, Sun, Video } from 'lucide-react';
import type { ReactNode } from 'react';
import { useState } from 'react';

import { api, type Status } from '../api.ts';
import { plural } from '../format.ts';
import { usePoll } from '../router.ts';

const NAV = [
  { id: 'dashboard', label: 'Dashboard', icon: LayoutDashboard },
  { id: 'live', label: 'Live', icon: Video },
  { id: 'events', label: 'Events', icon: Film },
  { id: 'alerts', label: 'Alerts', icon: Bell },
  { id: 'cameras', label: 'Cameras', icon: Camera },
  { id: 'datasets', label: 'Datasets', icon: Database },
  { id: 'settings', label: 'Settings', icon: Settings },
];

const camerasOnline = (n: number) =>
  n === 0 ? 'No cameras yet' : n === 1 ? 'The camera is online' : `All ${n} cameras online`;

/** Green when every camera is online (and the link is up when configured), amber or red with the reason otherwise. */
function StatusStrip({ status }: { status: Status | undefined }) {
  if (!status) return <div className="h-8 bg-zinc-800" />;
  const offline = status.cameras.filter((c) => c.status !== 'online');
  const problems = [
    ...offline.map((c) => `${c.name} is ${c.status}${c.lastError ? `: ${c.lastError}` : ''}`),
    ...(!status.media.running ? ['media process restarting'] : []),
    ...(status.link.configured && !status.link.connected
      ? [`server link down${status.link.lastError ? `: ${status.link.lastError}` : ''}`]
      : []),
  ];
  const level =
    problems.length === 0
      ? 'ok'
      : offline.length === status.cameras.length && status.cameras.length > 0
        ? 'bad'
        : 'warn';
  const colour = { ok: 'bg-emerald-700', warn: 'bg-amber-600', bad: 'bg-red-700' }[level];
  return (
    <div role="status" data-testid="status-strip" className={`${colour} px-4 py-1.5 text-sm text-white truncate`}>
      {level === 'ok'
        ? `${camerasOnline(status.cameras.length)} · ${plural(status.eventsToday, 'event')} today`
        : problems.join(' · ')}
    </div>
  );
}

/** Theme and logout: in the rail on wide screens, in the top bar on phones. */
function Actions() {
  const [dark, setDark] = useState(document.documentElement.classList.contains('dark'));
  const toggle = () => {
    document.documentElement.classList.toggle('dark', !dark);
    localStorage.setItem('guardian-theme', dark ? 'light' : 'dark');
    setDark(!dark);
  };
  const logout = async () => {
    await api('POST /auth/logout').catch(() => undefined);
    window.location.reload();
  };
  return (
    <div className="flex gap-1">
      <button
        type="button"
        onClick={toggle}
        aria-label={dark ? 'Light theme' : 'Dark theme'}
        className="rounded-md p-2 hover:bg-zinc-500/15"
      >
        {dark ? <Sun size={18} /> : <Moon size={18} />}
      </button>
      <button type="button" onClick={logout} aria-label="Log out" className="rounded-md p-2 hover:bg-zinc-500/15">
        <LogOut size={18} />
      </button>
    </div>
  );
}

export function Layout({ page, children }: { page: string; children: ReactNode }) {
  const { data: status } = usePoll(() => api<Status>('GET /status'), 5000);
  return (
    <div className="min-h-screen flex flex-col dark:bg-zinc-950 bg-zinc-100">
      <StatusStrip status={status} />
      <header className="sm:hidden flex items-center justify-between px-4 py-1 border-b border-zinc-800/60">
        <span className="font-semibold tracking-wide text-sky-400">Guardian</span>
        <Actions />
      </header>
      <div className="flex flex-1">
        <nav aria-label="Main" className="hidden sm:flex flex-col gap-1 w-44 shrink-0 p-3 border-r border-zinc-800/60">
          <div className="px-2 py-3 font-semibold tracking-wide text-sky-400">Guardian</div>
          {NAV.map((n) => (
            <a
              key={n.id}
              href={`#/${n.id}`}
              aria-current={page === n.id ? 'page' : undefined}
              className={`flex items-center gap-2 rounded-md px-2 py-2 text-sm hover:bg-zinc-500/15 focus:outline-2 focus:outline-sky-500 ${page === n.id ? 'bg-sky-500/15 text-sky-400' : ''}`}
            >
              <n.icon size={18} aria-hidden /> {n.label}
            </a>
          ))}
          <div className="mt-auto">
            <Actions />
          </div>
        </nav>
        {/* On phones the bottom bar is fixed: the padding keeps the end of every page above it. */}
        <main className="flex-1 min-w-0 p-4 pb-24 sm:pb-4">{children}</main>
      </div>
      <nav
        aria-label="Main (phone)"
        data-testid="bottom-bar"
        className="sm:hidden fixed bottom-0 inset-x-0 z-20 flex justify-around border-t border-zinc-800 dark:bg-zinc-900 bg-white pb-[env(safe-area-inset-bottom)]"
      >
        {NAV.map((n) => (
          <a
            key={n.id}
            href={`#/${n.id}`}
            aria-label={n.label}
            aria-current={page === n.id ? 'page' : undefined}
            className={`flex flex-col items-center px-1 py-1.5 text-[10px] ${page === n.id ? 'text-sky-400' : ''}`}
          >
            <n.icon size={20} aria-hidden />
            {n.label}
          </a>
        ))}
      </nav>
    </div>
  );
}

export function Card({ title, children, className = '' }: { title?: string; children: ReactNode; className?: string }) {
  return (
    <section className={`rounded-xl border border-zinc-500/20 dark:bg-zinc-900 bg-white p-4 ${className}`}>
      {title && <h2 className="mb-3 text-sm font-medium text-zinc-400">{title}</h2>}
      {children}
    </section>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p role="alert" className="rounded-md bg-red-900/40 px-3 py-2 text-sm text-red-200">
      {(error as Error).message ?? String(error)}
    </p>
  );
}
