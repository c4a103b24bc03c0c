// A hash router: #/events/ID -> ['events', 'ID']. Enough for six pages; no dependency needed.
import { useEffect, useState } from 'react';

export function useRoute(): string[] {
  const read = () => window.location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

export const go = (path: string) => {
  window.location.hash = `#/${path}`;
};

/** Re-runs `fn` every `ms` while the page is visible; returns its latest result. */
export function usePoll<T>(
  fn: () => Promise<T>,
  ms: number,
  deps: unknown[] = [],
): { data: T | undefined; error: unknown; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    const run = () =>
      fn().then(
        (d) => alive && (setData(d), setError(undefined)),
        (e) => alive && setError(e),
      );
    run();
    const t = ms > 0 ? setInterval(() => document.visibilityState === 'visible' && run(), ms) : undefined;
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}
