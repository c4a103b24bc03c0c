/** Any route the router does not know: say so, and offer the way back. */
export function NotFound() {
  return (
    <div className="space-y-3">
      <h1 className="text-lg font-semibold">Page not found</h1>
      <p className="text-zinc-400">There is no page at {window.location.hash || 'this address'}.</p>
      <a href="#/dashboard" className="inline-block rounded-md bg-sky-600 px-3 py-1.5 text-sm text-white">
        Go to the dashboard
      </a>
    </div>
  );
}
