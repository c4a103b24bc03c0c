import { type ReactNode, useEffect, useState } from 'react';

import { api } from './api.ts';
import { Layout } from './components/Layout.tsx';
import { Alerts } from './pages/Alerts.tsx';
import { Cameras } from './pages/Cameras.tsx';
import { Dashboard } from './pages/Dashboard.tsx';
import { Datasets } from './pages/Datasets.tsx';
import { EventDetail, Events } from './pages/Events.tsx';
import { Live } from './pages/Live.tsx';
import { Login } from './pages/Login.tsx';
import { NotFound } from './pages/NotFound.tsx';
import { Settings } from './pages/Settings.tsx';
import { useRoute } from './router.ts';

export function App() {
  const [auth, setAuth] = useState<{ setupRequired: boolean; loggedIn: boolean } | null>(null);
  const route = useRoute();
  useEffect(() => {
    const check = () =>
      api<{ setupRequired: boolean; loggedIn: boolean }>('GET /auth/state').then(setAuth, () =>
        setAuth({ setupRequired: false, loggedIn: false }),
      );
    check();
    window.addEventListener('guardian:logged-out', check);
    return () => window.removeEventListener('guardian:logged-out', check);
  }, []);
  if (!auth) return <div className="p-8 text-zinc-400">Loading…</div>;
  if (!auth.loggedIn)
    return <Login setup={auth.setupRequired} onDone={() => setAuth({ setupRequired: false, loggedIn: true })} />;
  const [page = 'dashboard', id, ...rest] = route;
  const pages: Record<string, () => ReactNode> = {
    dashboard: () => <Dashboard />,
    live: () => <Live />,
    events: () => (id ? <EventDetail id={id} /> : <Events />),
    alerts: () => <Alerts />,
    cameras: () => <Cameras />,
    datasets: () => <Datasets />,
    settings: () => <Settings />,
  };
  // Only the events page takes an id; anything else unknown gets the not-found page rather than a blank one.
  const render = Object.hasOwn(pages, page) && !rest.length && (!id || page === 'events') ? pages[page] : undefined;
  return <Layout page={page}>{render ? render() : <NotFound />}</Layout>;
}
