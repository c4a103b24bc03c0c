import { useEffect, useState } from 'react';

import { api } from './api.ts';
import { Layout } from './components/Layout.tsx';
import { Cameras } from './pages/Cameras.tsx';
import { Dashboard } from './pages/Dashboard.tsx';
import { Datasets } from './pages/Datasets.tsx';
import { EventDetail, Events } from './pages/Events.tsx';
import { Live } from './pages/Live.tsx';
import { Login } from './pages/Login.tsx';
import { Settings } from './pages/Settings.tsx';
import { useRoute } from './router.ts';

export function App() {
  const [auth, setAuth] = useState<{ setupRequired: boolean; loggedIn: boolean } | null>(null);
  const route = useRoute();
  useEffect(() => {
    const check = () =>
      api<{ setupRequired: boolean; loggedIn: boolean }>('/auth/state').then(setAuth, () =>
        setAuth({ setupRequired: false, loggedIn: false }),
      );
    check();
    window.addEventListener('guardian:logged-out', check);
    return () => window.removeEventListener('guardian:logged-out', check);
  }, []);
  if (!auth) return <div className="p-8 text-zinc-400">Loading…</div>;
  if (!auth.loggedIn)
    return <Login setup={auth.setupRequired} onDone={() => setAuth({ setupRequired: false, loggedIn: true })} />;
  const [page = 'dashboard', id] = route;
  return (
    <Layout page={page}>
      {page === 'dashboard' && <Dashboard />}
      {page === 'live' && <Live />}
      {page === 'events' && (id ? <EventDetail id={id} /> : <Events />)}
      {page === 'cameras' && <Cameras />}
      {page === 'datasets' && <Datasets />}
      {page === 'settings' && <Settings />}
    </Layout>
  );
}
